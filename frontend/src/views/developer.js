// Developer view: network, chain id, block, the deployed contracts and their recent events.
import { config, contract, deployedNames, events, network, publicClient, read, short, who, has } from '../chain.js';
import { roleNames } from '../codes.js';
import { date, fill, h, note, table } from '../ui.js';


function argText(value) {
  if (typeof value === 'string' && /^0x[0-9a-fA-F]{40}$/.test(value)) return who(value);
  if (typeof value === 'string' && value.length > 20) return short(value);
  if (Array.isArray(value)) return `[${value.map(argText).join(', ')}]`;
  if (value && typeof value === 'object') return `{${Object.entries(value).map(([k, v]) => `${k}: ${argText(v)}`).join(', ')}}`;
  return String(value);
}

function eventRow(log) {
  const args = log.args ? Object.entries(log.args).map(([k, v]) => `${k}=${argText(v)}`).join(', ') : '(undecoded)';
  return h('tr', {},
    h('td', {}, String(log.blockNumber)),
    h('td', {}, h('strong', {}, log.eventName || '?')),
    h('td', { class: 'args' }, args),
    h('td', { class: 'mono' }, short(log.transactionHash)));
}

async function contractsSection() {
  const names = deployedNames();
  if (!names.length) return note('warn', 'No contracts are deployed on this chain yet.');
  const rows = await Promise.all(names.map(async (name) => {
    const c = contract(name);
    const [code, logs] = await Promise.all([
      publicClient.getCode({ address: c.address }),
      events(name, { limit: Infinity }),
    ]);
    const ok = code && code !== '0x';
    return h('tr', { dataset: { contract: name } },
      h('td', {}, h('a', { href: `#/developer/${encodeURIComponent(name)}` }, name)),
      h('td', { class: 'mono' }, c.address),
      h('td', {}, String(c.block)),
      h('td', {}, ok ? 'yes' : h('span', { class: 'bad' }, 'NO CODE')),
      h('td', {}, h('a', { href: `#/developer/${encodeURIComponent(name)}` }, `${logs.length} events`)));
  }));
  return h('section', {}, h('h2', {}, 'Deployed contracts'),
    table(['Contract', 'Address', 'Deployed at block', 'Code', 'Events'], rows, { id: 'contracts' }));
}

async function castSection() {
  if (!has('ParticipantDirectory')) return null;
  const rows = await Promise.all(config.cast.map(async (m) => {
    const p = await read('ParticipantDirectory', 'participant', [m.address]);
    const status = !p.roles ? 'not registered' : p.suspended ? 'SUSPENDED' : 'active';
    return h('tr', {},
      h('td', {}, String(m.index)), h('td', {}, m.name), h('td', {}, m.label),
      h('td', { class: 'mono' }, m.address), h('td', {}, roleNames(p.roles)), h('td', {}, status),
      h('td', {}, p.registeredAt ? date(p.registeredAt) : '—'));
  }));
  return h('section', {}, h('h2', {}, 'Devnet cast in the participant directory'),
    table(['#', 'Name', 'Organisation', 'Address', 'Roles', 'Status', 'Registered'], rows, { id: 'cast' }));
}

async function eventsOf(name) {
  const logs = await events(name, { limit: 50 });
  return h('section', {},
    h('p', {}, h('a', { href: '#/developer' }, '← all contracts')),
    h('h2', {}, `Recent events of ${name}`),
    h('p', { class: 'mono' }, contract(name).address),
    table(['Block', 'Event', 'Arguments', 'Transaction'], logs.map(eventRow), { id: 'events' }));
}

export default {
  title: 'Developer',
  defaultAccount: 'admin',
  async render(root, ctx) {
    const [block, gasPrice] = await Promise.all([publicClient.getBlock(), publicClient.getGasPrice()]);
    const info = h('section', { id: 'netinfo' }, h('h1', {}, 'Developer'),
      h('dl', { class: 'facts' },
        h('dt', {}, 'RPC'), h('dd', { class: 'mono' }, config.rpcUrl),
        h('dt', {}, 'Chain id'), h('dd', { id: 'chain-id' }, String(network.chainId)),
        h('dt', {}, 'Block'), h('dd', { id: 'block' }, `${block.number} (${date(block.timestamp)})`),
        h('dt', {}, 'Gas price'), h('dd', {}, `${gasPrice} wei`),
        h('dt', {}, 'Relayer'), h('dd', { class: 'mono' }, config.relayerUrl)));
    if (network.problem) return fill(root, info, note('error', network.problem));
    if (ctx.arg) return fill(root, info, await eventsOf(ctx.arg));
    const [contracts, cast] = await Promise.all([contractsSection(), castSection()]);
    fill(root, info, contracts, cast);
  },
};
