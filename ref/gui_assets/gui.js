// crmig gui: the page. No libraries: the DOM for the trees, SVG for the
// timeline and the chart. Everything arrives on one Server-Sent Events
// stream (/events): a snapshot, then the changes; the browser reconnects by
// itself and the server replays what it missed (Last-Event-ID).
'use strict';

const TOKEN = document.querySelector('meta[name="crmig-token"]').content;
const STRATEGIES = ['stop', 'pre', 'post', 'hybrid'];
const STRAT_COLOR = { stop: '#7b8794', pre: '#2a62c9', post: '#1f8a4c', hybrid: '#8e44ad' };
const PHASE_COLOR = { frozen: '#c0392b', dump: '#e67e22', transfer: '#f1c40f', restore: '#16a085',
  lazy: '#1f8a4c', round: '#2a62c9' };
const model = { hosts: [], migrations: [], lastId: 0 };
// ms from crmig gui hearing a migration event to this page having it (for tests and the curious)
const latency = [];
window.crmigLatency = latency;
const ui = { selected: null, hover: null, collapsed: new Set(), dragging: null, dialogFor: null, preflight: null,
  current: null, arrival: {}, dirtyHosts: true, dirtyMig: true, cancelMsg: {} };

// The token stays out of the address bar (and out of history and screenshots).
if (location.search.includes('token=')) history.replaceState(null, '', '/');

const $ = (id) => document.getElementById(id);
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (v !== null && v !== undefined && v !== false) e.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k);
  return e;
}
const SVGNS = 'http://www.w3.org/2000/svg';
function sv(tag, attrs, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function fmtMs(v) {
  if (v === null || v === undefined || isNaN(v)) return '–';
  if (v < 10000) return (Math.round(v * 10) / 10) + ' ms';
  return (v / 1000).toFixed(2) + ' s';
}
function fmtBytes(n) {
  if (n === null || n === undefined) return '–';
  if (n < 1000) return n + ' B';
  const u = ['kB', 'MB', 'GB', 'TB'];
  let i = -1;
  do { n /= 1000; i++; } while (n >= 1000 && i < u.length - 1);
  return n.toFixed(n < 10 ? 2 : 1) + ' ' + u[i];
}

// ---- the model, as the server keeps it (ref/gui_state.c apply()) --------

function host(name) {
  let h = model.hosts.find((x) => x.name === name);
  if (!h) { h = { name, addr: null, check: null, procs: [], error: null }; model.hosts.push(h); }
  return h;
}
function mig(id) { return model.migrations.find((m) => m.id === id); }

function apply(type, d) {
  switch (type) {
    case 'snapshot':
      model.hosts = d.hosts || []; model.migrations = d.migrations || [];
      ui.dirtyHosts = ui.dirtyMig = true;
      break;
    case 'host': Object.assign(host(d.name), d); ui.dirtyHosts = true; preflightHeard(); break;
    case 'tree': host(d.host).procs = d.procs || []; ui.dirtyHosts = true; break;
    case 'tree-diff': {
      const h = host(d.host);
      const gone = new Set(d.removed || []);
      const changed = new Map((d.changed || []).map((p) => [p.pid, p]));
      h.procs = h.procs.filter((p) => !gone.has(p.pid)).map((p) => changed.get(p.pid) || p)
        .concat(d.added || []);
      ui.dirtyHosts = true;
      break;
    }
    case 'mig-start':
      model.migrations.push(Object.assign({ state: 'running', handover: false, events: [], log: [], report: null }, d));
      ui.current = d.id; ui.dirtyMig = true;
      break;
    case 'mig-event': {
      const m = mig(d.id); const ev = d.ev;
      if (!m || !ev) break;
      ui.arrival[d.id] = { t: ev.t_ms, at: performance.now() };
      if (d.gui_ms) latency.push(Date.now() - d.gui_ms);
      if (ev.event === 'handover') { m.handover = true; m.handover_ms = ev.t_ms; }
      if (ev.event === 'start') m.crmig_pid = ev.pid;
      if (ev.event === 'log') { m.log.push(ev); if (m.log.length > 200) m.log.shift(); }
      else if (ev.event !== 'result') m.events.push(ev);
      ui.dirtyMig = true;
      break;
    }
    case 'mig-end': {
      const m = mig(d.id);
      if (m) { m.state = 'done'; m.report = d.report; m.result = d.result; m.error = d.error; }
      ui.dirtyMig = true;
      break;
    }
  }
}

// ---- the event stream ---------------------------------------------------

function connect() {
  const es = new EventSource('/events');
  const types = ['snapshot', 'host', 'tree', 'tree-diff', 'mig-start', 'mig-event', 'mig-end'];
  for (const t of types) {
    es.addEventListener(t, (e) => {
      let d;
      try { d = JSON.parse(e.data); } catch (err) { return; }
      if (e.lastEventId) model.lastId = Number(e.lastEventId);
      apply(t, d);
      schedule();
    });
  }
  es.onopen = () => { $('conn').textContent = 'live'; $('conn').className = 'conn live'; };
  es.onerror = () => { $('conn').textContent = 'reconnecting…'; $('conn').className = 'conn down'; };
  es.addEventListener('bye', () => { $('conn').textContent = 'crmig gui stopped'; $('conn').className = 'conn down'; });
}

let pending = false;
function schedule() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => { pending = false; render(); });
}

// ---- hosts and trees ----------------------------------------------------

function pairStrategies(from, to) {
  const out = {};
  for (const s of STRATEGIES) {
    let why = null;
    for (const h of [from, to]) {
      const c = h && h.check;
      if (!c) { why = 'host ' + (h ? h.name : '?') + ' has not said what it can do yet'; break; }
      if (!(c.strategies || {})[s]) { why = 'host ' + h.name + ': ' + ((c.why_disabled || {})[s] || 'not supported there'); break; }
    }
    out[s] = why;
  }
  return out;
}

function otherHosts(name) { return model.hosts.filter((h) => h.name !== name); }

function procKey(hostName, pid) { return hostName + ':' + pid; }

function buildTree(h) {
  const byPid = new Map(h.procs.map((p) => [p.pid, p]));
  const kids = new Map();
  for (const p of h.procs) {
    const parent = byPid.has(p.ppid) && p.ppid !== p.pid ? p.ppid : 0;
    if (!kids.has(parent)) kids.set(parent, []);
    kids.get(parent).push(p);
  }
  for (const v of kids.values()) v.sort((a, b) => a.pid - b.pid);
  return { byPid, kids };
}

function renderLanes() {
  const box = $('lanes');
  const focused = document.activeElement && document.activeElement.classList.contains('node')
    ? document.activeElement.dataset.key : null;
  box.replaceChildren();
  for (const h of model.hosts) {
    const lane = el('section', { class: 'lane', 'data-host': h.name, 'aria-label': 'host ' + h.name });
    const c = h.check || {};
    const head = el('div', { class: 'lane-head' },
      el('h2', { text: 'host ' + h.name + (h.addr ? '  ·  ' + h.addr : '') }),
      el('div', { class: 'meta', text: c.kernel ? [c.distro || c.hostname || '', 'kernel ' + c.kernel,
        'criu ' + (c.criu || 'none'), 'lxc ' + (c.lxc || '?')].filter(Boolean).join(' · ') : 'waiting for crmig check…' }));
    if (h.error) head.append(el('div', { class: 'err', text: h.error }));
    for (const o of otherHosts(h.name)) {
      const strats = el('div', { class: 'strats', 'data-to': o.name }, el('span', { class: 'k', text: '→ ' + o.name + ':' }));
      const ps = pairStrategies(h, o);
      for (const s of STRATEGIES) {
        strats.append(el('span', { class: 'strat' + (ps[s] ? ' off' : ''), title: ps[s] || s + ' works between these hosts',
          'data-strategy': s, text: s }));
      }
      // each reason once per row: pre and hybrid often share one (no soft-dirty)
      const whys = [...new Set(STRATEGIES.map((s) => ps[s]).filter(Boolean))];
      if (whys.length) strats.append(el('span', { class: 'k why', text: '(' + whys.join('; ') + ')' }));
      head.append(strats);
    }
    lane.append(head);
    const tree = el('div', { class: 'tree', role: 'tree', 'aria-label': 'processes of ' + h.name });
    const t = buildTree(h);
    const add = (parentEl, p, depth) => {
      const key = procKey(h.name, p.pid);
      const children = t.kids.get(p.pid) || [];
      const isCollapsed = ui.collapsed.has(key) || (p.kthread && p.pid === 2 && !ui.collapsed.has('open:' + key));
      const moving = model.migrations.some((m) => m.state === 'running' && m.from === h.name &&
        JSON.stringify(m.target) === JSON.stringify(p.target));
      const node = el('div', {
        class: 'node' + (p.migratable ? '' : ' no') + (p.container_init ? ' ct' : '') +
          (ui.selected === key ? ' sel' : '') + (moving ? ' moving' : ''),
        role: 'treeitem', tabindex: '-1', 'data-key': key, 'data-host': h.name, 'data-pid': p.pid,
        'aria-level': depth + 1, 'aria-selected': ui.selected === key ? 'true' : 'false',
        'aria-expanded': children.length ? String(!isCollapsed) : null,
        draggable: p.migratable ? 'true' : 'false',
        title: p.migratable ? 'drag onto another host to migrate' : 'cannot migrate: ' + p.why_not,
      },
      el('span', { class: 'twisty', text: children.length ? (isCollapsed ? '▸' : '▾') : '' }),
      el('span', { class: 'label', text: p.container_init ? p.container + ' (' + p.name + ')' : p.name }),
      el('span', { class: 'pid', text: String(p.pid) }),
      p.container && !p.container_init ? el('span', { class: 'badge c', text: p.container }) : null,
      p.kthread && p.pid !== 2 ? null : (p.tcp ? el('span', { class: 'badge', text: 'tcp ' + p.tcp }) : null));
      parentEl.append(node);
      if (children.length && !isCollapsed) {
        const group = el('div', { class: 'kids', role: 'group' });
        for (const c2 of children) add(group, c2, depth + 1);
        parentEl.append(group);
      }
    };
    for (const root of t.kids.get(0) || []) add(tree, root, 0);
    lane.append(tree);
    box.append(lane);
  }
  const nodes = box.querySelectorAll('.node');
  const want = focused || ui.selected;
  let tabbed = false;
  for (const n of nodes) {
    if (n.dataset.key === want) { n.tabIndex = 0; tabbed = true; if (focused) n.focus({ preventScroll: true }); }
  }
  if (!tabbed) for (const lane of box.querySelectorAll('.tree')) { const f = lane.querySelector('.node'); if (f) f.tabIndex = 0; }
}

function procOf(key) {
  if (!key) return null;
  const i = key.indexOf(':');
  const h = model.hosts.find((x) => x.name === key.slice(0, i));
  if (!h) return null;
  const pid = Number(key.slice(i + 1));
  const p = h.procs.find((x) => x.pid === pid);
  return p ? { h, p } : null;
}

function renderInfo() {
  const hp = procOf(ui.hover) || procOf(ui.selected);
  const set = (id, v) => { $(id).textContent = v === null || v === undefined || v === '' ? '–' : v; };
  if (!hp) {
    for (const id of ['info-name', 'info-id', 'info-children', 'info-host', 'info-cmdline', 'info-user', 'info-state',
      'info-threads', 'info-rss', 'info-tcp', 'info-container', 'info-migratable']) set(id, null);
    $('info-name').textContent = 'hover or select a process';
    $('info-migratable').className = '';
  } else {
    const { h, p } = hp;
    const kids = h.procs.filter((c) => c.ppid === p.pid && c.pid !== p.pid);
    set('info-name', p.name);
    set('info-id', String(p.pid));
    set('info-children', kids.length ? kids.map((c) => c.name + ' ' + c.pid).join(', ') : 'none');
    set('info-host', h.name);
    set('info-cmdline', p.cmdline || (p.kthread ? '[kernel thread]' : ''));
    set('info-user', p.user);
    set('info-state', { R: 'running', S: 'sleeping', D: 'disk wait', Z: 'zombie', T: 'stopped', t: 'traced (criu holds it)', I: 'idle' }[p.state] || p.state);
    set('info-threads', p.threads);
    set('info-rss', p.rss_kb ? fmtBytes(p.rss_kb * 1024) : '0');
    set('info-tcp', String(p.tcp || 0) + ' established');
    set('info-container', p.container ? p.container + (p.container_init ? ' (its init: migrates the container)' : '') : 'none (bare)');
    const mg = $('info-migratable');
    mg.textContent = p.migratable ? 'yes' + (p.note ? ' (' + p.note + ')' : '') : 'no: ' + p.why_not;
    mg.className = p.migratable ? 'ok-text' : 'bad-text';
  }
  const sel = procOf(ui.selected);
  const running = model.migrations.some((m) => m.state === 'running');
  $('migrate-btn').disabled = !sel || !sel.p.migratable || running || otherHosts(sel.h.name).length === 0;
  $('migrate-btn').title = !sel ? 'select a process first' : !sel.p.migratable ? 'cannot migrate: ' + sel.p.why_not
    : running ? 'a migration is running' : 'migrate ' + sel.p.name + ' to another host';
}

// ---- selecting, keyboard, drag and drop ---------------------------------

function select(key, focus) {
  ui.selected = key;
  for (const n of document.querySelectorAll('.node')) {
    const on = n.dataset.key === key;
    n.classList.toggle('sel', on);
    n.setAttribute('aria-selected', on ? 'true' : 'false');
    n.tabIndex = on ? 0 : -1;
    if (on && focus) n.focus();
  }
  renderInfo();
}

function toggle(key) {
  const hp = procOf(key);
  if (hp && hp.p.pid === 2 && hp.p.kthread) {
    const k = 'open:' + key;
    if (ui.collapsed.has(k)) ui.collapsed.delete(k); else ui.collapsed.add(k);
  } else if (ui.collapsed.has(key)) ui.collapsed.delete(key); else ui.collapsed.add(key);
  renderLanes();
  select(key, true);
}

function onKey(e) {
  const n = e.target.closest && e.target.closest('.node');
  if (!n) return;
  const tree = n.closest('.tree');
  const all = [...tree.querySelectorAll('.node')];
  const i = all.indexOf(n);
  const go = (j) => { if (all[j]) { select(all[j].dataset.key, true); all[j].scrollIntoView({ block: 'nearest' }); } };
  switch (e.key) {
    case 'ArrowDown': go(i + 1); break;
    case 'ArrowUp': go(i - 1); break;
    case 'Home': go(0); break;
    case 'End': go(all.length - 1); break;
    case 'ArrowRight':
      if (n.getAttribute('aria-expanded') === 'false') toggle(n.dataset.key); else go(i + 1);
      break;
    case 'ArrowLeft':
      if (n.getAttribute('aria-expanded') === 'true') toggle(n.dataset.key);
      else {
        const lvl = Number(n.getAttribute('aria-level'));
        for (let j = i - 1; j >= 0; j--) if (Number(all[j].getAttribute('aria-level')) < lvl) { go(j); break; }
      }
      break;
    case 'Enter': case 'm': case 'M': openDialog(n.dataset.key); break;
    default: return;
  }
  e.preventDefault();
}

function setupInteractions() {
  const lanes = $('lanes');
  lanes.addEventListener('mouseover', (e) => {
    const n = e.target.closest('.node');
    const key = n ? n.dataset.key : null;
    if (key !== ui.hover) { ui.hover = key; renderInfo(); }
  });
  lanes.addEventListener('mouseleave', () => { ui.hover = null; renderInfo(); });
  lanes.addEventListener('click', (e) => {
    const n = e.target.closest('.node');
    if (!n) return;
    if (e.target.classList.contains('twisty') && n.hasAttribute('aria-expanded')) toggle(n.dataset.key);
    else select(n.dataset.key, true);
  });
  lanes.addEventListener('dblclick', (e) => { const n = e.target.closest('.node'); if (n) openDialog(n.dataset.key); });
  lanes.addEventListener('keydown', onKey);
  lanes.addEventListener('focusin', (e) => { const n = e.target.closest('.node'); if (n && ui.selected !== n.dataset.key) select(n.dataset.key, false); });
  lanes.addEventListener('dragstart', (e) => {
    const n = e.target.closest('.node');
    const hp = n && procOf(n.dataset.key);
    if (!hp || !hp.p.migratable) { e.preventDefault(); return; }
    ui.dragging = n.dataset.key;
    e.dataTransfer.setData('text/plain', n.dataset.key);
    e.dataTransfer.effectAllowed = 'move';
  });
  lanes.addEventListener('dragend', () => { ui.dragging = null; for (const l of lanes.querySelectorAll('.lane')) l.classList.remove('drop-ok', 'drop-bad'); });
  lanes.addEventListener('dragover', (e) => {
    const lane = e.target.closest('.lane');
    const key = ui.dragging || (e.dataTransfer && e.dataTransfer.getData('text/plain'));
    if (!lane || !key) return;
    const ok = key.split(':')[0] !== lane.dataset.host;
    lane.classList.toggle('drop-ok', ok);
    lane.classList.toggle('drop-bad', !ok);
    if (ok) { e.preventDefault(); e.dataTransfer.dropEffect = 'move'; }
  });
  lanes.addEventListener('dragleave', (e) => { const lane = e.target.closest('.lane'); if (lane && !lane.contains(e.relatedTarget)) lane.classList.remove('drop-ok', 'drop-bad'); });
  lanes.addEventListener('drop', (e) => {
    const lane = e.target.closest('.lane');
    const key = (e.dataTransfer && e.dataTransfer.getData('text/plain')) || ui.dragging;
    for (const l of lanes.querySelectorAll('.lane')) l.classList.remove('drop-ok', 'drop-bad');
    ui.dragging = null;
    if (!lane || !key || key.split(':')[0] === lane.dataset.host) return;
    e.preventDefault();
    openDialog(key, lane.dataset.host);
  });
  $('migrate-btn').addEventListener('click', () => openDialog(ui.selected));
  $('mig-close').addEventListener('click', () => $('mig-dialog').close());
  $('mig-dest').addEventListener('change', () => { fillStrategies(); preflight(); });
  $('mig-form').addEventListener('submit', (e) => { e.preventDefault(); startMigration(); });
  $('cancel-btn').addEventListener('click', cancelMigration);
  $('export-csv').addEventListener('click', exportCsv);
  $('export-svg').addEventListener('click', exportSvg);
}

// ---- the dialog ---------------------------------------------------------

function fillStrategies() {
  const hp = procOf(ui.dialogFor);
  const to = model.hosts.find((h) => h.name === $('mig-dest').value);
  const box = $('dlg-strategies');
  const prev = (box.querySelector('input:checked') || {}).value;
  box.replaceChildren(el('legend', { text: 'strategy' }));
  const ps = hp && to ? pairStrategies(hp.h, to) : {};
  let first = null;
  for (const s of STRATEGIES) {
    const input = el('input', { type: 'radio', name: 'strategy', value: s, disabled: !!ps[s] });
    if (!ps[s] && !first) first = input;
    if (!ps[s] && s === (prev || 'pre')) input.checked = true;
    box.append(el('label', { class: ps[s] ? 'off' : '' }, input, ' ' + s,
      ps[s] ? el('span', { class: 'why', text: ps[s] }) : null));
  }
  if (!box.querySelector('input:checked') && first) first.checked = true;
}

function openDialog(key, dest) {
  const hp = procOf(key);
  if (!hp) return;
  if (!hp.p.migratable) { $('cancel-msg').textContent = ''; alertInfo('cannot migrate ' + hp.p.name + ': ' + hp.p.why_not); return; }
  select(key, false);
  ui.dialogFor = key;
  const what = hp.p.container_init ? 'container ' + hp.p.container : hp.p.name + ' (pid ' + hp.p.pid + ')';
  $('dlg-title').textContent = 'Migrate ' + what;
  $('dlg-what').textContent = 'from host ' + hp.h.name + (hp.p.cmdline ? ': ' + hp.p.cmdline : '');
  const sel = $('mig-dest');
  sel.replaceChildren(...otherHosts(hp.h.name).map((h) => el('option', { value: h.name, text: h.name + (h.addr ? ' (' + h.addr + ')' : '') })));
  if (dest) sel.value = dest;
  $('rootfs-row').hidden = !hp.p.container_init;
  $('dlg-error').textContent = '';
  fillStrategies();
  if (!$('mig-dialog').open) $('mig-dialog').showModal();
  preflight();
}

// The preflight: both hosts run `crmig check` again (a fresh session with
// their crmig serve); the dialog shows the verdict and the strategies
// follow it. Until it is in (or 30 s passed), Migrate waits.
const PREFLIGHT_MS = 30000;
async function preflight() {
  const hp = procOf(ui.dialogFor);
  const to = $('mig-dest').value;
  if (!hp || !to) return;
  const pf = { from: hp.h.name, to, seq: null, started: performance.now(), state: 'running', error: null };
  ui.preflight = pf;
  renderPreflight();
  const r = await post('/api/preflight', { from: pf.from, to: pf.to });
  if (ui.preflight !== pf) return;
  if (r.status !== 202) { pf.state = 'failed'; pf.error = r.body.error || ('refused: HTTP ' + r.status); }
  else pf.seq = r.body.check_seq;
  preflightHeard();
  setTimeout(() => { if (ui.preflight === pf && pf.state === 'running') { pf.state = 'timeout'; renderPreflight(); } }, PREFLIGHT_MS);
}

function preflightHeard() {
  const pf = ui.preflight;
  if (!pf || pf.state !== 'running' || !pf.seq) { if (pf) renderPreflight(); return; }
  const fresh = [pf.from, pf.to].every((n) => { const h = model.hosts.find((x) => x.name === n); return h && (h.check_seq || 0) > (pf.seq[n] || 0); });
  if (fresh) { pf.state = 'done'; pf.ms = performance.now() - pf.started; }
  renderPreflight();
}

function renderPreflight() {
  const pf = ui.preflight;
  const box = $('dlg-preflight');
  if (!pf || !$('mig-dialog').open) return;
  box.dataset.state = pf.state;
  box.replaceChildren();
  const hosts = [pf.from, pf.to].map((n) => model.hosts.find((x) => x.name === n)).filter(Boolean);
  if (pf.state === 'running') {
    box.className = 'preflight';
    box.append('preflight: running crmig check on ' + pf.from + ' and ' + pf.to + '…');
  } else if (pf.state === 'failed' || pf.state === 'timeout') {
    box.className = 'preflight bad';
    box.append('preflight: ' + (pf.error || 'no fresh answer from both hosts in ' + PREFLIGHT_MS / 1000 + ' s') +
      ' — the strategies follow the hosts\' earlier check');
  } else {
    const ps = pairStrategies(hosts[0], hosts[1]);
    const ok = STRATEGIES.filter((s) => !ps[s]);
    box.className = 'preflight ' + (ok.length ? 'ok' : 'bad');
    box.append(el('b', { text: 'preflight (' + fmtMs(pf.ms) + '): ' }),
      ok.length === STRATEGIES.length ? 'every strategy works from ' + pf.from + ' to ' + pf.to
        : ok.length ? ok.join(', ') + ' work' + (ok.length === 1 ? 's' : '') + '; ' + STRATEGIES.filter((s) => ps[s]).join(', ') + ' cannot'
          : 'no strategy works between these hosts');
    const ul = el('ul');
    for (const h of hosts) {
      const c = h.check || {};
      ul.append(el('li', { 'data-host': h.name, text: h.name + ': criu ' + (c.criu || 'none') + ', kernel ' + (c.kernel || '?') +
        (c.why_not ? ' — ' + c.why_not : '') }));
    }
    box.append(ul);
  }
  fillStrategies();
  $('mig-start').disabled = pf.state === 'running';
}

function alertInfo(msg) { $('info-migratable').textContent = msg; $('info-migratable').className = 'bad-text'; }

async function post(url, body) {
  const r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Crmig-Token': TOKEN },
    body: JSON.stringify(body), credentials: 'same-origin' });
  let j = {};
  try { j = await r.json(); } catch (e) { j = { error: 'HTTP ' + r.status }; }
  return { status: r.status, body: j };
}

async function startMigration() {
  const hp = procOf(ui.dialogFor);
  const strategy = ($('dlg-strategies').querySelector('input:checked') || {}).value;
  if (!hp || !strategy) { $('dlg-error').textContent = 'pick a strategy that both hosts allow'; return; }
  const req = { from: hp.h.name, to: $('mig-dest').value, strategy, target: hp.p.target,
    options: { page_tls: $('opt-page-tls').checked, keep_images: $('opt-keep').checked,
      move_ip: $('opt-move-ip').value.trim(), rootfs: $('opt-rootfs').value } };
  $('mig-start').disabled = true;
  const r = await post('/api/migrate', req);
  $('mig-start').disabled = false;
  if (r.status !== 202) { $('dlg-error').textContent = r.body.error || ('refused: HTTP ' + r.status); return; }
  ui.current = r.body.id;
  ui.cancelMsg[r.body.id] = null;
  $('mig-dialog').close();
  schedule();
}

async function cancelMigration() {
  const m = mig(ui.current);
  if (!m) return;
  const r = await post('/api/cancel', { id: m.id });
  ui.cancelMsg[m.id] = r.status === 202 ? { ok: true, text: 'cancel sent: crmig rolls back, the source resumes' }
    : { ok: false, text: r.body.error || ('refused: HTTP ' + r.status) };
  renderMigration();
}

// ---- a migration: timeline, clocks, result ------------------------------

function liveT(m) {
  const a = ui.arrival[m.id];
  if (!a) return 0;
  return m.state === 'running' ? a.t + (performance.now() - a.at) : a.t;
}

function phasesOf(m) {
  // From the events as they come; the report's list replaces them at the end.
  if (m.report && m.report.phases && m.report.phases.length) return m.report.phases.map((p) => Object.assign({ done: true }, p));
  const out = []; const open = {};
  const now = liveT(m);
  let freeze = null;
  for (const ev of m.events) {
    if (ev.event === 'phase-begin') { open[ev.name] = { name: ev.name, start_ms: ev.t_ms, end_ms: now, open: true }; out.push(open[ev.name]); }
    else if (ev.event === 'phase-end') {
      if (open[ev.name]) { Object.assign(open[ev.name], { start_ms: ev.start_ms, end_ms: ev.end_ms, bytes: ev.bytes, open: false }); delete open[ev.name]; }
      else out.push({ name: ev.name, start_ms: ev.start_ms, end_ms: ev.end_ms, bytes: ev.bytes });
      if (ev.name === 'frozen') freeze = null;
    } else if (ev.event === 'freeze') {
      freeze = { name: 'frozen', start_ms: ev.t_ms, end_ms: now, open: true }; out.push(freeze);
    }
  }
  for (const p of out) if (p.open) p.end_ms = Math.max(now, p.start_ms);
  // the live "frozen" bar is replaced by crmig's own when it comes
  const frozenDone = out.filter((p) => p.name === 'frozen' && !p.open);
  return frozenDone.length ? out.filter((p) => !(p.name === 'frozen' && p.open)) : out;
}

function phaseColor(name) { return PHASE_COLOR[name] || (name.startsWith('round') ? PHASE_COLOR.round : '#95a5a6'); }

function renderTimeline(m) {
  const svg = $('timeline');
  const phases = phasesOf(m);
  const rows = [];
  for (const p of phases) { const r = p.name.startsWith('round-') ? 'pre-copy' : p.name; if (!rows.includes(r)) rows.push(r); }
  // the order things happen in, whatever order crmig recorded them in
  const ORDER = ['pre-copy', 'frozen', 'dump', 'transfer', 'restore', 'lazy'];
  const rank = (r) => (ORDER.includes(r) ? ORDER.indexOf(r) : ORDER.length);
  rows.sort((a, b) => rank(a) - rank(b));
  const W = Math.max(svg.clientWidth || 340, 200), L = 64, R = 10, rowH = 18, top = 4;
  const end = Math.max(liveT(m), ...phases.map((p) => p.end_ms), 1);
  const H = top + rows.length * rowH + 22;
  svg.setAttribute('height', H);
  svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
  svg.replaceChildren();
  const x = (t) => L + (W - L - R) * (t / end);
  rows.forEach((r, i) => svg.append(sv('text', { x: 2, y: top + i * rowH + 13, 'font-size': 11, fill: '#687083' }, r)));
  for (const p of phases) {
    const r = p.name.startsWith('round-') ? 'pre-copy' : p.name;
    const i = rows.indexOf(r);
    const w = Math.max(x(p.end_ms) - x(p.start_ms), 2);
    const g = sv('g', { class: 'phase', 'data-name': p.name, 'data-start': p.start_ms, 'data-end': p.end_ms });
    const rect = sv('rect', { x: x(p.start_ms), y: top + i * rowH + 2, width: w, height: rowH - 5, rx: 2,
      fill: phaseColor(p.name), opacity: p.open ? 0.55 : 0.9 });
    rect.append(sv('title', {}, p.name + ': ' + fmtMs(p.start_ms) + ' → ' + fmtMs(p.end_ms) + ' (' + fmtMs(p.end_ms - p.start_ms) + ')' +
      (p.bytes ? ', ' + fmtBytes(p.bytes) : '')));
    g.append(rect);
    if (p.name.startsWith('round-') && w > 24) g.append(sv('text', { x: x(p.start_ms) + 3, y: top + i * rowH + 12, 'font-size': 10, fill: '#fff' }, p.name.slice(6)));
    svg.append(g);
  }
  const axisY = top + rows.length * rowH + 4;
  svg.append(sv('line', { x1: L, x2: W - R, y1: axisY, y2: axisY, stroke: '#d7dbe3' }));
  const step = [100, 200, 500, 1000, 2000, 5000, 10000, 30000, 60000].find((s) => end / s <= 6) || 120000;
  for (let t = 0; t <= end; t += step) {
    svg.append(sv('line', { x1: x(t), x2: x(t), y1: axisY, y2: axisY + 4, stroke: '#687083' }));
    svg.append(sv('text', { x: x(t), y: axisY + 15, 'font-size': 10, fill: '#687083', 'text-anchor': 'middle' }, t >= 1000 ? (t / 1000) + ' s' : t + ' ms'));
  }
}

function renderMigration() {
  const m = mig(ui.current) || model.migrations[model.migrations.length - 1];
  if (!m) { $('progress').hidden = true; return; }
  ui.current = m.id;
  $('progress').hidden = false;
  const what = m.target && m.target.lxc ? 'container ' + m.target.lxc : 'pid ' + (m.target && m.target.pid);
  $('prog-title').textContent = m.strategy + ': ' + what + ' ' + m.from + ' → ' + m.to +
    (m.state === 'running' ? ' (running)' : ' (' + (m.result || 'done') + ')');
  $('progress').dataset.state = m.state;
  $('progress').dataset.migration = m.id;
  renderTimeline(m);
  // the clock: from the freeze until the workload runs again (restore ends)
  const fr = m.events.find((e) => e.event === 'freeze');
  const resumed = m.events.find((e) => e.event === 'phase-end' && e.name === 'restore');
  const clock = $('frozen-clock');
  // not migrated (rolled back, failed): the source was frozen for a while, there was no downtime
  const notMigrated = m.state === 'done' && m.result !== 'ok';
  $('clock-label').textContent = !notMigrated && ((m.report && m.result === 'ok') || resumed) ? 'downtime' : 'frozen for';
  if (notMigrated) { clock.textContent = fr ? fmtMs((m.report && m.report.frozen_ms) || 0) : 'never'; clock.className = 'big'; }
  else if (m.report && m.result === 'ok') { clock.textContent = fmtMs(m.report.downtime_ms); clock.className = 'big'; }
  else if (fr && resumed) { clock.textContent = fmtMs(resumed.end_ms - fr.t_ms); clock.className = 'big'; }
  else if (fr && m.state === 'running') { clock.textContent = fmtMs(liveT(m) - fr.t_ms); clock.className = 'big ticking'; }
  else clock.textContent = fr ? fmtMs((m.report && m.report.frozen_ms) || 0) : 'not yet';
  const b = [...m.events].reverse().find((e) => e.event === 'bytes');
  const moved = m.report ? m.report.bytes_total : b ? b.bytes : null;
  $('bytes').textContent = moved === null ? '–' : fmtBytes(moved);
  $('rate').textContent = b && m.state === 'running' ? b.rate_mbps + ' MB/s' : '';
  // cancel: possible until the handover, then the button says why not
  const cb = $('cancel-btn');
  cb.hidden = m.state !== 'running';
  if (m.handover) {
    cb.textContent = 'Cancel — too late: handed over';
    cb.className = 'late';
    cb.title = 'the destination already runs the workload since ' + fmtMs(m.handover_ms) + ': a cancel would lose it';
  } else { cb.textContent = 'Cancel'; cb.className = ''; cb.title = 'roll back: criu resumes the workload on ' + m.from; }
  const cm = m.state === 'running' ? ui.cancelMsg[m.id] : null;
  $('cancel-msg').textContent = cm ? cm.text : m.handover && m.state === 'running' ? 'past the handover: cancelling is no longer possible' : '';
  $('cancel-msg').className = cm ? (cm.ok ? 'ok' : 'refused') : '';
  // the result
  const res = $('result');
  res.hidden = m.state !== 'done';
  if (m.state === 'done') {
    const r = m.report || {};
    $('res-title').textContent = 'Result: ' + (m.result || 'failed');
    $('res-title').className = m.result === 'ok' ? 'ok-text' : 'bad-text';
    const setMs = (id, v) => { $(id).textContent = fmtMs(v); $(id).dataset.ms = v === undefined ? '' : v; };
    setMs('res-frozen', r.frozen_ms);
    if (m.result === 'ok') {
      setMs('res-downtime', r.downtime_ms); setMs('res-lazy', r.lazy_ms);
      $('res-bbr').textContent = fmtBytes(r.bytes_before_resume); $('res-bbr').dataset.bytes = r.bytes_before_resume;
    } else {
      // nothing moved: a "0 ms" downtime would read as a perfect migration
      for (const id of ['res-downtime', 'res-lazy', 'res-bbr']) {
        $(id).textContent = '– (not migrated)'; $(id).dataset.ms = ''; $(id).dataset.bytes = '';
      }
    }
    $('res-total').textContent = fmtBytes(r.bytes_total); $('res-total').dataset.bytes = r.bytes_total;
    $('res-rounds').textContent = r.rounds === undefined ? '–' : r.rounds + (r.stop_reason ? ' (' + r.stop_reason + ')' : '');
    const err = m.error || r.error;
    $('res-error').hidden = !err;
    $('res-error').textContent = err ? 'crmig: ' + err : '';
    renderFailure(m, r);
  }
  const log = $('log');
  const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  log.textContent = m.log.slice(-40).map((l) => '[' + (l.t_ms / 1000).toFixed(1).padStart(6) + ' s] ' + l.msg).join('\n');
  if (atBottom) log.scrollTop = log.scrollHeight;
}

// What went wrong, from crmig's report: the known upstream bug it matches
// (known_bug), the last error lines of criu's and lxc's logs on both hosts
// (criu_log_excerpts), where the repro bundle is (bundle).
function renderFailure(m, r) {
  const box = $('res-failure');
  box.hidden = m.result === 'ok';
  if (box.hidden) return;
  const bug = $('res-bug');
  bug.hidden = !r.known_bug;
  bug.replaceChildren(...(r.known_bug ? [el('b', { text: 'known upstream bug: ' }), r.known_bug] : []));
  bug.dataset.bug = r.known_bug ? r.known_bug.split(':')[0] : '';
  const src = model.hosts.find((h) => h.name === m.from);
  const b = r.bundle;
  const bundle = $('res-bundle');
  bundle.dataset.dir = b && b.dir ? b.dir : '';
  bundle.textContent = b && b.dir
    ? 'repro bundle on host ' + m.from + ': ' + b.dir + (src && src.addr ? '  (scp -r root@' + src.addr.replace(/:\d+$/, '') + ':' + b.dir + ' .)' : '')
    : 'no repro bundle: tick "keep images" in the dialog to keep one';
  const logs = $('res-logs');
  logs.replaceChildren();
  const ex = r.criu_log_excerpts || {};
  for (const [side, hostName] of [['source', m.from], ['destination', m.to]]) {
    const files = ex[side] || [];
    const sec = el('div', { class: 'excerpt', 'data-side': side });
    if (!files.length) sec.append(el('h4', { text: 'host ' + hostName + ' (' + side + '): ' + (r.criu_log_excerpts ? 'no error lines in its logs' : 'no log excerpts in this report') }));
    for (const f of files) {
      sec.append(el('h4', { text: 'host ' + hostName + ' (' + side + '): ' + f.file + ', last ' + f.lines.length + ' error line' + (f.lines.length === 1 ? '' : 's') }));
      sec.append(el('pre', { 'data-file': f.file, text: f.lines.join('\n') }));
    }
    logs.append(sec);
  }
}

// ---- the session's chart ------------------------------------------------

function finished() {
  return model.migrations.filter((m) => m.state === 'done' && m.report && m.result === 'ok');
}

function renderChart() {
  const svg = $('chart');
  const ms = finished();
  const W = Math.max(svg.clientWidth || 600, 300), H = 220, L = 56, B = 40, T = 16;
  svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
  svg.setAttribute('xmlns', SVGNS);
  svg.replaceChildren();
  svg.append(sv('rect', { x: 0, y: 0, width: W, height: H, fill: '#ffffff' }));
  const notOk = model.migrations.filter((m) => m.state === 'done' && m.result !== 'ok').length;
  $('chart-note').textContent = (ms.length ? ms.length + ' completed migration' + (ms.length > 1 ? 's' : '') + ' this session'
    : 'no completed migration yet: each one adds a bar') + (notOk ? ' (' + notOk + ' not migrated: rolled back or failed)' : '');
  const groups = STRATEGIES.map((s) => ({ s, items: ms.filter((m) => m.strategy === s) })).filter((g) => g.items.length);
  const max = Math.max(1, ...ms.map((m) => m.report.downtime_ms));
  const y = (v) => T + (H - T - B) * (1 - v / (max * 1.15));
  svg.append(sv('line', { x1: L, x2: W - 8, y1: y(0), y2: y(0), stroke: '#687083' }));
  const step = [50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000].find((s) => max / s <= 5) || 50000;
  for (let v = 0; v <= max * 1.15; v += step) {
    svg.append(sv('line', { x1: L - 4, x2: W - 8, y1: y(v), y2: y(v), stroke: '#eef0f4' }));
    svg.append(sv('text', { x: L - 6, y: y(v) + 4, 'font-size': 10, 'text-anchor': 'end', fill: '#687083', 'font-family': 'sans-serif' },
      v >= 1000 ? (v / 1000) + ' s' : v + ' ms'));
  }
  svg.append(sv('text', { x: 12, y: T + (H - T - B) / 2, 'font-size': 11, fill: '#687083', 'font-family': 'sans-serif',
    transform: 'rotate(-90 12 ' + (T + (H - T - B) / 2) + ')', 'text-anchor': 'middle' }, 'downtime'));
  const n = ms.length + Math.max(groups.length - 1, 0);
  const slot = Math.min(70, (W - L - 16) / Math.max(n, 1));
  let i = 0;
  for (const g of groups) {
    const gx = L + 8 + i * slot;
    for (const m of g.items) {
      const v = m.report.downtime_ms;
      const bx = L + 8 + i * slot;
      const bar = sv('rect', { class: 'bar', x: bx + 4, y: y(v), width: slot - 8, height: y(0) - y(v), fill: STRAT_COLOR[g.s],
        'data-strategy': g.s, 'data-ms': v, 'data-migration': m.id });
      bar.append(sv('title', {}, m.id + ' ' + g.s + ': ' + fmtMs(v)));
      svg.append(bar);
      svg.append(sv('text', { x: bx + slot / 2, y: y(v) - 3, 'font-size': 10, 'text-anchor': 'middle', fill: '#1d2330', 'font-family': 'sans-serif' }, fmtMs(v)));
      i++;
    }
    svg.append(sv('text', { x: gx + (g.items.length * slot) / 2, y: H - B + 16, 'font-size': 12, 'text-anchor': 'middle', fill: STRAT_COLOR[g.s], 'font-family': 'sans-serif' }, g.s));
    i++;
  }
}

function download(name, type, text) {
  const a = el('a', { href: URL.createObjectURL(new Blob([text], { type })), download: name });
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 5000);
}

function csv() {
  const cols = ['id', 'strategy', 'from', 'to', 'target', 'result', 'downtime_ms', 'frozen_ms', 'lazy_ms',
    'bytes_before_resume', 'bytes_total', 'rounds'];
  const lines = [cols.join(',')];
  for (const m of model.migrations.filter((x) => x.state === 'done')) {
    const r = m.report || {};
    const t = m.target ? (m.target.lxc ? 'lxc:' + m.target.lxc : 'pid:' + m.target.pid) : '';
    lines.push([m.id, m.strategy, m.from, m.to, t, m.result || 'failed', r.downtime_ms, r.frozen_ms, r.lazy_ms,
      r.bytes_before_resume, r.bytes_total, r.rounds].map((v) => (v === undefined || v === null ? '' : String(v).replace(/[",\n]/g, ' '))).join(','));
  }
  return lines.join('\n') + '\n';
}
function exportCsv() { download('crmig-downtime.csv', 'text/csv', csv()); }
function exportSvg() {
  const s = new XMLSerializer().serializeToString($('chart'));
  download('crmig-downtime.svg', 'image/svg+xml', '<?xml version="1.0" encoding="UTF-8"?>\n' + s);
}
// for tests and scripts: the same data the buttons export
window.crmigExport = { csv, svg: () => new XMLSerializer().serializeToString($('chart')) };

// ---- the loop -----------------------------------------------------------

function render() {
  if (ui.dirtyHosts) { ui.dirtyHosts = false; renderLanes(); }
  renderInfo();
  if (ui.dirtyMig) { ui.dirtyMig = false; renderMigration(); renderChart(); renderLanes(); }
}

setInterval(() => {
  const m = mig(ui.current);
  if (m && m.state === 'running') renderMigration();
}, 100);
window.addEventListener('resize', () => { ui.dirtyMig = true; schedule(); });
setupInteractions();
connect();
