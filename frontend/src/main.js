// Entry: hash router (#/pharmacy, #/patient, #/insurer, #/developer), network status line,
// account picker, and a page-level catch so no error stays in the console only.
import { config, connect, explain, network, publicClient, nodeDown, usesDevnetKeys, signerFor, short } from './chain.js';
import { fill, h, note } from './ui.js';

const views = {
  pharmacy: () => import('./views/pharmacy.js'),
  patient: () => import('./views/patient.js'),
  insurer: () => import('./views/insurer.js'),
  developer: () => import('./views/developer.js'),
};

const app = document.getElementById('app');
const problems = document.getElementById('problems');
const netLine = document.getElementById('network');
const accountBar = document.getElementById('account');

const chosen = {}; // route -> cast name picked by the user
const current = { route: null, view: null, token: 0 };
let connected = false;

function showProblem(text) {
  fill(problems, text ? note('error', text) : null);
}

window.addEventListener('error', (e) => showProblem(`Unexpected error: ${explain(e.error || e.message)}`));
window.addEventListener('unhandledrejection', (e) => showProblem(explain(e.reason)));

function routeName() {
  const name = (location.hash.match(/^#\/(\w+)/) || [])[1];
  return views[name] ? name : 'pharmacy';
}

/** Sub-path after the route, e.g. "#/developer/ParticipantDirectory" -> "ParticipantDirectory". */
export function routeArg() {
  return decodeURIComponent((location.hash.match(/^#\/\w+\/(.+)$/) || [])[1] || '');
}

function defaultAccount(view) {
  return typeof view.defaultAccount === 'function' ? view.defaultAccount(routeArg()) : view.defaultAccount;
}

function renderAccountBar(view) {
  const route = current.route;
  if (!connected || network.problem) return fill(accountBar);
  if (usesDevnetKeys()) {
    const name = chosen[route] || defaultAccount(view);
    const select = h('select', {
      id: 'account-picker', 'aria-label': 'Act as (devnet account)',
      onchange: (e) => { chosen[route] = e.target.value; render(); },
    }, config.cast.map((m) => h('option', { value: m.name, selected: m.name === name },
      `${m.role} — ${m.label} (${short(m.address)})`)));
    fill(accountBar, h('label', { class: 'picker' }, h('strong', {}, 'Act as '), select),
      h('span', { class: 'devkeys' }, 'Devnet test account: its key comes from the public test mnemonic. Local devnet only.'));
  } else if (window.ethereum) {
    fill(accountBar, h('span', {}, 'Connecting to your browser wallet…'));
    signerFor(defaultAccount(view)).then(
      (s) => fill(accountBar, h('span', { id: 'wallet' }, `Signing with your browser wallet as ${short(s.address)}.`)),
      (e) => fill(accountBar, note('error', explain(e))),
    );
  } else {
    fill(accountBar, note('warn', `Read-only: chain ${network.chainId} is not the local devnet and no browser wallet was found. `
      + 'Install or unlock an EIP-1193 wallet to sign.'));
  }
}

async function render() {
  const route = routeName();
  const token = ++current.token;
  current.route = route;
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.route === route);
  showProblem(null);
  if (current.view?.dispose) current.view.dispose();
  try {
    if (!connected) {
      await connect();
      connected = true;
    }
    const view = (await views[route]()).default;
    if (token !== current.token) return;
    current.view = view;
    document.title = `CareLedger — ${view.title}`;
    renderAccountBar(view);
    if (network.problem) showProblem(network.problem);
    const ctx = {
      account: () => chosen[route] || defaultAccount(view),
      signer: () => signerFor(chosen[route] || defaultAccount(view)),
      rerender: render,
      arg: routeArg(),
      alive: () => token === current.token,
    };
    delete app.dataset.ready;
    fill(app, h('p', { class: 'muted' }, 'Loading…'));
    await view.render(app, ctx);
    if (token === current.token) app.dataset.ready = String(token); // for tests: this render is done
  } catch (e) {
    if (token !== current.token) return;
    const text = explain(e);
    if (text === nodeDown()) {
      // Said once, in the banner; the view comes back by itself when the node answers.
      showProblem(text);
      fill(app, h('p', { class: 'muted', id: 'waiting' }, 'This page loads by itself as soon as the node answers.'));
    } else {
      fill(app, note('error', text));
    }
    app.dataset.ready = String(token);
  }
}

let nodeState = 'unknown'; // 'up' | 'down': the view is re-rendered only when the node comes back

async function tick() {
  try {
    const block = await publicClient.getBlockNumber({ cacheTime: 0 });
    const cameBack = nodeState === 'down';
    nodeState = 'up';
    if (cameBack) {
      connected = false;
      render();
    }
    if (network.chainId !== null) netLine.textContent = `chain ${network.chainId} · block ${block} · ${config.rpcUrl}`;
    netLine.classList.remove('down');
  } catch {
    nodeState = 'down';
    netLine.textContent = `node down · ${config.rpcUrl}`;
    netLine.classList.add('down');
    showProblem(nodeDown());
  }
}

window.addEventListener('hashchange', render);
render();
tick();
setInterval(tick, 2000);
