// Tiny DOM helpers: h() builds elements, show()/problem() put messages on the page.

/** h('p', {class: 'x', onclick: fn}, 'text', child) -> HTMLElement */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

/** Replace the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

/** A message box: kind is 'error' | 'ok' | 'info' | 'warn'. */
export function note(kind, text) {
  return h('div', { class: `note ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}

export function table(headers, rows, attrs = {}) {
  return h('table', attrs,
    h('thead', {}, h('tr', {}, headers.map((x) => h('th', {}, x)))),
    h('tbody', {}, rows.length ? rows : [h('tr', {}, h('td', { colspan: headers.length, class: 'muted' }, 'nothing yet'))]));
}

export function date(seconds) {
  if (!seconds) return '—';
  return new Date(Number(seconds) * 1000).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}

/**
 * Run an async action from a button: disables it, shows progress and the outcome (or the
 * readable error) in `out`. Never lets an error escape to the console only.
 */
export async function act(button, out, busyText, action, explain) {
  const label = button.textContent;
  button.disabled = true;
  button.textContent = busyText;
  fill(out, note('info', `${busyText}`));
  try {
    const result = await action();
    if (result) fill(out, result instanceof Node ? result : note('ok', String(result)));
    else fill(out);
  } catch (e) {
    fill(out, note('error', explain(e)));
  } finally {
    button.disabled = false;
    button.textContent = label;
  }
}
