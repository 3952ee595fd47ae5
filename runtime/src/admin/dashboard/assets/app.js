// The operations dashboard of the HL7 engine's admin endpoint (runtime/src/admin/dashboard).
// Plain JavaScript, no build step. Every request is same-origin and carries the session
// cookie; changes also carry X-HL7-Admin, which the endpoint requires with a cookie. Data is
// put into the page with textContent only, never as markup.
'use strict';

(() => {
  const STATUS_EVERY_MS = 1500;
  const ITEMS_EVERY_MS = 2000;
  const PAGE_SIZE = 50;
  // Rates are the change of the counters over this many polls.
  const RATE_WINDOW = 6;
  const FINAL = new Set(['done', 'error', 'discarded']);
  // An HL7 location as the engine writes it: PID(2)-3[1].4.1 (segment, its position, field,
  // repetition, component, subcomponent).
  const LOCATION = /\b([A-Z][A-Z0-9]{2})\((\d+)\)(?:-(\d+)(?:\[(\d+)\])?(?:\.(\d+)(?:\.(\d+))?)?)?/g;

  const $ = (id) => document.getElementById(id);
  let fields = { segments: {}, datatypes: {} };

  // ----- helpers -------------------------------------------------------------------------

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'text') node.textContent = value;
      else if (key === 'data') Object.assign(node.dataset, value);
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  let signingOut = false;

  async function api(method, path, body) {
    const init = {
      method,
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { Accept: 'application/json', 'X-HL7-Admin': '1' },
    };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    if (response.status === 401) {
      // The session ended: the page itself now answers with the sign-in form.
      if (!signingOut) {
        signingOut = true;
        location.reload();
      }
      throw new Error('signed out');
    }
    let data = null;
    try {
      data = await response.json();
    } catch (_) {
      data = null;
    }
    if (!response.ok) {
      throw new Error((data && data.error) || `${response.status} ${response.statusText}`);
    }
    return data;
  }

  const numbers = new Intl.NumberFormat('en-US');
  const fmtCount = (n) => (n === null || n === undefined ? '—' : numbers.format(n));

  function fmtRate(rate) {
    if (rate === null || rate === undefined) return '—';
    if (rate === 0) return '0/s';
    return `${rate < 10 ? rate.toFixed(1) : Math.round(rate)}/s`;
  }

  function fmtAge(seconds) {
    if (seconds === null || seconds === undefined) return '—';
    if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return `${minutes} min ${Math.floor(seconds % 60)} s`;
    const hours = Math.floor(minutes / 60);
    if (hours < 48) return `${hours} h ${minutes % 60} min`;
    return `${Math.floor(hours / 24)} d ${hours % 24} h`;
  }

  const pad = (n) => String(n).padStart(2, '0');

  function fmtTime(iso) {
    if (!iso) return '—';
    const t = new Date(iso);
    if (Number.isNaN(t.getTime())) return iso;
    const clock = `${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`;
    const today = new Date();
    if (t.toDateString() === today.toDateString()) return clock;
    return `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())} ${clock}`;
  }

  function badge(state) {
    return el('span', { class: `badge state-${state}`, text: state, data: { state } });
  }

  // A row of a live table, made once per key and updated in place (no flicker, buttons kept).
  function keyedRow(tbody, key, columns) {
    let row = tbody.querySelector(`tr[data-key="${CSS.escape(key)}"]`);
    if (!row) {
      row = el('tr', { data: { key } });
      for (const [name, cls] of columns) row.append(el('td', { class: cls, data: { col: name } }));
      tbody.append(row);
    }
    return row;
  }

  function setCell(row, col, content, title) {
    const cell = row.querySelector(`td[data-col="${col}"]`);
    if (content instanceof Node) {
      cell.replaceChildren(content);
    } else if (cell.textContent !== String(content)) {
      cell.textContent = String(content);
    }
    if (title !== undefined) cell.title = title;
    return cell;
  }

  // ----- status: channels, destinations, alerts ----------------------------------------------

  const samples = [];

  function rate(kind, name) {
    if (samples.length < 2) return null;
    const first = samples[0];
    const last = samples[samples.length - 1];
    const seconds = last.t - first.t;
    const a = first[kind].get(name);
    const b = last[kind].get(name);
    if (!(seconds > 0) || a === undefined || b === undefined) return null;
    return Math.max(0, (b - a) / seconds);
  }

  const CHANNEL_COLUMNS = [
    ['name', ''], ['received', 'num'], ['rate', 'num'], ['aa', 'num'], ['ae', 'num'],
    ['ar', 'num'], ['errors', 'num'], ['duplicates', 'num'], ['last', ''],
  ];
  const DESTINATION_COLUMNS = [
    ['name', ''], ['state', ''], ['delivered', 'num'], ['rate', 'num'], ['queue', 'num'],
    ['oldest', 'num'], ['failed', 'num'], ['dead', 'num'], ['last', ''], ['action', 'action'],
  ];

  function renderStatus(status) {
    samples.push({
      t: status.uptime_seconds,
      channels: new Map(status.channels.map((c) => [c.name, c.received])),
      destinations: new Map(status.destinations.map((d) => [d.name, d.delivered])),
    });
    while (samples.length > RATE_WINDOW + 1) samples.shift();

    const channels = $('channels').tBodies[0];
    for (const c of status.channels) {
      const row = keyedRow(channels, c.name, CHANNEL_COLUMNS);
      setCell(row, 'name', c.name);
      setCell(row, 'received', fmtCount(c.received));
      setCell(row, 'rate', fmtRate(rate('channels', c.name)));
      setCell(row, 'aa', fmtCount(c.acks.AA + c.acks.CA));
      setCell(row, 'ae', fmtCount(c.acks.AE + c.acks.CE));
      setCell(row, 'ar', fmtCount(c.acks.AR + c.acks.CR));
      const errors = c.errors + c.store_failures;
      setCell(row, 'errors', fmtCount(errors), `${c.store_failures} store failures`)
        .classList.toggle('bad', errors > 0);
      setCell(row, 'duplicates', fmtCount(c.duplicates), `${c.control_id_reuse} control id reuses`);
      setCell(row, 'last', fmtTime(c.last_received), c.last_received || '');
      row.dataset.received = c.received;
    }

    const destinations = $('destinations').tBodies[0];
    for (const d of status.destinations) {
      const row = keyedRow(destinations, d.name, DESTINATION_COLUMNS);
      row.dataset.state = d.state;
      row.dataset.delivered = d.delivered;
      row.dataset.queue = d.queue_depth ?? '';
      setCell(row, 'name', d.name);
      const stateCell = row.querySelector('td[data-col="state"]');
      if (stateCell.dataset.shown !== d.state) {
        stateCell.replaceChildren(badge(d.state));
        stateCell.dataset.shown = d.state;
      }
      stateCell.title = d.down_since ? `down since ${d.down_since}` : '';
      setCell(row, 'delivered', fmtCount(d.delivered));
      setCell(row, 'rate', fmtRate(rate('destinations', d.name)));
      setCell(row, 'queue', fmtCount(d.queue_depth)).classList.toggle('warn', d.queue_depth > 0);
      setCell(row, 'oldest', d.queue_depth ? fmtAge(d.oldest_queued_age_seconds) : '—');
      setCell(row, 'failed', fmtCount(d.failed), `${d.retried} retried, ${d.dead_lettered} dead-lettered`)
        .classList.toggle('bad', d.failed > 0);
      setCell(row, 'dead', fmtCount(d.dead_letters)).classList.toggle('bad', d.dead_letters > 0);
      setCell(row, 'last', fmtTime(d.last_delivered), d.last_delivered || '');
      const action = row.querySelector('td[data-col="action"]');
      let button = action.querySelector('button');
      if (!button) {
        button = el('button', { type: 'button', class: 'small', data: { destination: d.name } });
        button.addEventListener('click', () => togglePause(d.name, button));
        action.append(button);
      }
      const label = d.paused ? 'Resume' : 'Pause';
      if (button.textContent !== label) button.textContent = label;
      button.dataset.paused = d.paused;
    }

    const alerts = status.alerts || [];
    $('alerts').hidden = alerts.length === 0;
    $('alert-list').replaceChildren(
      ...alerts.map((a) => el('li', {},
        el('strong', { text: a.rule.replaceAll('_', ' ') }), ` on ${a.subject}: `,
        `${numbers.format(a.value)} (threshold ${numbers.format(a.threshold)}) since ${fmtTime(a.since)}`)),
    );

    const health = $('health');
    health.classList.toggle('bad', !status.store_ok);
    health.textContent = `${status.store_ok ? 'store ok' : 'store unreadable'} · up ${fmtAge(status.uptime_seconds)} · updated ${fmtTime(status.now)}`;
  }

  async function togglePause(name, button) {
    const resume = button.dataset.paused === 'true';
    button.disabled = true;
    try {
      await api('POST', `/api/destinations/${encodeURIComponent(name)}/${resume ? 'resume' : 'pause'}`);
      await pollStatusOnce();
    } catch (e) {
      showHealthError(e);
    } finally {
      button.disabled = false;
    }
  }

  function showHealthError(e) {
    const health = $('health');
    health.classList.add('bad');
    health.textContent = `cannot reach the engine: ${e.message}`;
  }

  async function pollStatusOnce() {
    try {
      renderStatus(await api('GET', '/api/status'));
    } catch (e) {
      showHealthError(e);
    }
  }

  async function pollStatus() {
    await pollStatusOnce();
    setTimeout(pollStatus, STATUS_EVERY_MS);
  }

  // ----- the message browser: one page at a time, keyset paging ----------------------------

  const paging = { filters: null, cursors: [null], page: 0, next: null };

  function filtersFromForm() {
    const form = new FormData($('search'));
    const filters = new URLSearchParams();
    for (const [key, value] of form.entries()) {
      const v = String(value).trim();
      if (!v) continue;
      if (key === 'from' || key === 'to') {
        const t = new Date(v);
        filters.set(key, Number.isNaN(t.getTime()) ? v : t.toISOString());
      } else {
        filters.set(key, v);
      }
    }
    return filters;
  }

  async function loadPage() {
    const query = new URLSearchParams(paging.filters);
    query.set('limit', PAGE_SIZE);
    const before = paging.cursors[paging.page];
    if (before !== null) query.set('before', before);
    const tbody = $('results').tBodies[0];
    $('page-info').textContent = 'searching…';
    try {
      const page = await api('GET', `/api/messages?${query}`);
      paging.next = page.next_before;
      renderResults(page.messages);
      const first = paging.page * PAGE_SIZE + 1;
      $('page-info').textContent = page.messages.length
        ? `page ${paging.page + 1} · ${first}–${first + page.messages.length - 1}`
        : `page ${paging.page + 1} · no messages`;
    } catch (e) {
      paging.next = null;
      tbody.replaceChildren(el('tr', {}, el('td', { colspan: 8, class: 'bad', text: e.message })));
      $('page-info').textContent = 'search failed';
    }
    $('newer').disabled = paging.page === 0;
    $('older').disabled = paging.next === null || paging.next === undefined;
  }

  function deliveries(items) {
    return el('span', { class: 'chips' }, items.map((i) => el('span', {
      class: `chip state-${i.state}`,
      title: `item ${i.id}: ${i.state}, ${i.attempts} attempt(s)${i.reprocess_of ? `, reprocess of ${i.reprocess_of}` : ''}${i.last_error ? ` — ${i.last_error}` : ''}`,
      text: `${i.destination}${i.reprocess_of ? ' ↻' : ''}`,
    })));
  }

  function renderResults(messages) {
    const tbody = $('results').tBodies[0];
    if (!messages.length) {
      tbody.replaceChildren(el('tr', {}, el('td', { colspan: 8, class: 'muted', text: 'No message matches.' })));
      return;
    }
    tbody.replaceChildren(...messages.map((m) => el('tr', {
      class: 'result',
      tabindex: 0,
      data: { id: m.id, patient: m.patient_id || '', control: m.control_id },
      onclick: () => { location.hash = `#message/${m.id}`; },
      onkeydown: (e) => { if (e.key === 'Enter') location.hash = `#message/${m.id}`; },
    },
    el('td', { text: fmtTime(m.received_at), title: m.received_at }),
    el('td', { class: 'num', text: m.id }),
    el('td', { text: m.type }),
    el('td', { class: 'mono', text: m.control_id }),
    el('td', { text: `${m.sending_application} / ${m.sending_facility}` }),
    el('td', { class: 'mono', text: m.patient_id || '—' }),
    el('td', {}, badge(m.state), m.edited_from ? el('span', { class: 'muted', text: ` edit of ${m.edited_from}` }) : null),
    el('td', {}, deliveries(m.items)))));
  }

  function search(event) {
    if (event) event.preventDefault();
    paging.filters = filtersFromForm();
    paging.cursors = [null];
    paging.page = 0;
    loadPage();
  }

  // ----- one message --------------------------------------------------------------------

  let current = null; // the detail shown
  let itemTimer = null;
  let itemRound = 0; // a new round stops the polling of the message shown before
  let loading = false;

  function parseLocations(text) {
    const found = [];
    for (const m of (text || '').matchAll(LOCATION)) {
      found.push({
        text: m[0],
        segment: m[1],
        index: Number(m[2]),
        field: m[3] ? Number(m[3]) : null,
        repetition: m[4] ? Number(m[4]) : null,
        component: m[5] ? Number(m[5]) : null,
        subcomponent: m[6] ? Number(m[6]) : null,
      });
    }
    return found;
  }

  function locationTarget(loc) {
    if (loc.field) return document.getElementById(`f-${loc.index}-${loc.field}`);
    return document.getElementById(`seg-${loc.index}`);
  }

  // The error text with each location as a button that shows the field.
  function errorWithLocations(text) {
    const out = [];
    let last = 0;
    for (const m of text.matchAll(LOCATION)) {
      out.push(text.slice(last, m.index));
      const loc = parseLocations(m[0])[0];
      out.push(el('button', {
        type: 'button',
        class: 'loc',
        text: m[0],
        title: 'show this field',
        onclick: () => {
          const target = locationTarget(loc);
          if (!target) return;
          target.scrollIntoView({ block: 'center' });
          target.classList.remove('flash');
          void target.offsetWidth;
          target.classList.add('flash');
        },
      }));
      last = m.index + m[0].length;
    }
    out.push(text.slice(last));
    return out;
  }

  function componentNames(datatype) {
    return fields.datatypes[datatype] || [];
  }

  function fieldValue(value, datatype, seps, highlights) {
    const comps = componentNames(datatype);
    const reps = value.split(seps.repetition);
    const wrap = el('div', { class: 'value' });
    reps.forEach((rep, r) => {
      const repNo = r + 1;
      const parts = rep.split(seps.component);
      const marks = highlights.filter((h) => h.component && (h.repetition === null || h.repetition === repNo));
      const repNode = el('div', { class: 'rep', data: { rep: repNo } });
      if (reps.length > 1) repNode.append(el('span', { class: 'rep-no', text: `[${repNo}]` }));
      if (parts.length === 1 && !marks.length) {
        repNode.append(el('span', { class: 'mono', text: rep }));
      } else {
        const count = Math.max(parts.length, ...marks.map((h) => h.component));
        for (let c = 1; c <= count; c += 1) {
          const text = parts[c - 1] || '';
          const hit = marks.some((h) => h.component === c);
          if (!text && !hit) continue;
          const [name, type] = comps[c - 1] || [`component ${c}`, ''];
          repNode.append(el('span', {
            class: `comp${hit ? ' hl' : ''}`,
            title: type ? `${name} (${type})` : name,
            data: { comp: c },
          }, el('span', { class: 'comp-name', text: `${c} ${name}` }),
          el('span', { class: 'mono', text: text || '(empty)' })));
        }
      }
      wrap.append(repNode);
    });
    return wrap;
  }

  function renderSegments(raw, locations) {
    const lines = raw.split(/\r\n|\r|\n/).filter((l) => l.length > 0);
    const msh = lines[0] && lines[0].startsWith('MSH') ? lines[0] : null;
    const fieldSep = msh ? msh[3] : '|';
    const encoding = msh ? msh.slice(4).split(fieldSep)[0] : '^~\\&';
    const seps = { component: encoding[0] || '^', repetition: encoding[1] || '~' };
    const container = $('segments');
    container.replaceChildren();
    lines.forEach((line, i) => {
      const index = i + 1;
      const parts = line.split(fieldSep);
      const id = parts[0];
      const def = fields.segments[id] || { name: '', fields: [] };
      const values = id === 'MSH' ? [fieldSep, ...parts.slice(1)] : parts.slice(1);
      const marks = locations.filter((l) => l.index === index);
      const count = Math.max(values.length, ...marks.map((l) => l.field || 0));
      const rows = [];
      for (let n = 1; n <= count; n += 1) {
        const value = values[n - 1] || '';
        const fieldMarks = marks.filter((l) => l.field === n);
        const [name, type] = def.fields[n - 1] || ['', ''];
        let datatype = type;
        if (datatype === 'varies' && id === 'OBX') datatype = values[1] || datatype;
        const plain = id === 'MSH' && n <= 2;
        rows.push(el('tr', {
          id: `f-${index}-${n}`,
          class: ['field', value ? '' : 'empty', fieldMarks.length ? 'hl' : ''].join(' ').trim(),
          data: { field: n },
        },
        el('td', { class: 'pos mono', text: `${id}-${n}` }),
        el('td', { class: 'name' }, name || el('span', { class: 'muted', text: 'not in the base definition' }),
          datatype ? el('span', { class: 'dt', text: ` ${datatype}` }) : null),
        el('td', {}, plain ? el('span', { class: 'mono', text: value })
          : fieldValue(value, datatype, seps, fieldMarks),
        fieldMarks.length && !value ? el('span', { class: 'missing', text: '(missing)' }) : null)));
      }
      container.append(el('div', {
        id: `seg-${index}`,
        class: `segment${marks.length ? ' hl' : ''}`,
        data: { segment: id, index },
      },
      el('div', { class: 'segment-title' },
        el('span', { class: 'seg-index', text: index }),
        el('span', { class: 'seg-id mono', text: id }),
        el('span', { class: 'seg-name', text: def.name || '' })),
      el('table', { class: 'fields' }, el('tbody', {}, rows))));
    });
  }

  function renderItems(items) {
    const tbody = $('items').tBodies[0];
    const rows = [];
    for (const item of [...items].sort((a, b) => a.id - b.id)) {
      rows.push(el('tr', {
        class: 'item',
        data: {
          itemId: item.id,
          destination: item.destination,
          state: item.state,
          reprocessOf: item.reprocess_of ?? '',
        },
      },
      el('td', { class: 'num', text: item.id }),
      el('td', { text: item.destination }),
      el('td', { data: { col: 'state' } }, badge(item.state)),
      el('td', { class: 'num', data: { col: 'attempts' }, text: item.attempts }),
      el('td', { text: item.reprocess_of ? `item ${item.reprocess_of}` : '—' }),
      el('td', { text: fmtTime(item.created_at), title: item.created_at }),
      el('td', { text: fmtTime(item.finished_at), title: item.finished_at || '' }),
      el('td', { class: 'error-text', data: { col: 'error' }, text: item.last_error || '' })));
      const log = item.attempt_log || [];
      const details = el('details', {}, el('summary', { text: `${log.length} attempt(s), payload` }));
      if (log.length) {
        details.append(el('table', { class: 'grid attempts' },
          el('thead', {}, el('tr', {}, ['#', 'Worker', 'Started', 'Sent', 'Finished', 'Outcome', 'Error', 'Response']
            .map((h) => el('th', { text: h })))),
          el('tbody', {}, log.map((a) => el('tr', {},
            el('td', { class: 'num', text: a.attempt }),
            el('td', { class: 'mono', text: a.worker }),
            el('td', { text: fmtTime(a.started_at) }),
            el('td', { text: fmtTime(a.sent_at) }),
            el('td', { text: fmtTime(a.finished_at) }),
            el('td', {}, a.outcome ? badge(a.outcome.replace(' ', '-')) : 'in progress'),
            el('td', { class: 'error-text', text: a.error || '' }),
            el('td', {}, a.response ? el('pre', { text: a.response.replace(/\r/g, '\n') }) : '—'))))));
      }
      details.append(el('div', { class: 'muted', text: 'Payload delivered:' }),
        el('pre', { text: (item.payload || '').replace(/\r/g, '\n') }));
      rows.push(el('tr', { class: 'item-details' }, el('td', { colspan: 8 }, details)));
    }
    if (!rows.length) {
      rows.push(el('tr', {}, el('td', { colspan: 8, class: 'muted', text: 'Routed to no destination.' })));
    }
    tbody.replaceChildren(...rows);
  }

  function renderMessage(d) {
    current = d;
    $('message-title').textContent = `Message ${d.id} · ${d.type} · ${d.control_id}`;
    $('message-state').replaceChildren(badge(d.state));
    const facts = [
      ['Received', `${fmtTime(d.received_at)} (${d.received_at})`],
      ['Channel', d.channel],
      ['Sender', `${d.sending_application} / ${d.sending_facility}`],
      ['Patient id', d.patient_id || '—'],
    ];
    const dl = $('message-facts');
    dl.replaceChildren(...facts.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })]));
    if (d.edited_from) {
      dl.append(el('dt', { text: 'Edit of' }),
        el('dd', {}, el('a', { href: `#message/${d.edited_from}`, text: `message ${d.edited_from}` })));
    }
    if (d.edits && d.edits.length) {
      dl.append(el('dt', { text: 'Edited as' }), el('dd', {},
        d.edits.map((e, i) => [i ? ', ' : '', el('a', { href: `#message/${e}`, text: `message ${e}` })])));
    }

    const locations = parseLocations(d.error);
    $('message-error').hidden = !d.error;
    $('message-error-text').replaceChildren(...(d.error || '').split(/\n|; (?=error at )/).map((line) => el('div', {}, errorWithLocations(line))));

    renderItems(d.items);
    renderSegments(d.raw, locations);
    $('ack').textContent = d.ack ? d.ack.replace(/\r/g, '\n') : 'none kept';
    $('raw').textContent = d.raw.replace(/\r/g, '\n');
    $('audit').replaceChildren(...(d.audit.length ? d.audit.map((a) => el('li', {},
      `${fmtTime(a.at)} · ${a.user} · ${a.action}`,
      a.details && a.details.reason ? ` · “${a.details.reason}”` : '')) : [el('li', { class: 'muted', text: 'no changes' })]));

    const destinations = [...new Set(d.items.map((i) => i.destination))].sort();
    $('discard-destination').replaceChildren(el('option', { value: '', text: 'all (and the message)' }),
      ...destinations.map((n) => el('option', { value: n, text: n })));
  }

  async function loadMessage(id) {
    loading = true;
    try {
      renderMessage(await api('GET', `/api/messages/${id}`));
    } catch (e) {
      current = null;
      $('message-title').textContent = `Message ${id}`;
      result(`Cannot show message ${id}: ${e.message}`, true);
    } finally {
      loading = false;
    }
  }

  // Item states follow through the search (not audited: a page left open does not fill the
  // audit log with views); the whole message is read again when an item appears or settles.
  async function pollItemsOnce() {
    const shown = current;
    if (shown && !loading) {
      try {
        const page = await api('GET', `/api/messages?before=${shown.id + 1}&limit=1`);
        const m = page.messages[0];
        if (m && current === shown && m.id === shown.id) {
          let reload = m.state !== shown.state;
          for (const item of m.items) {
            const row = $('items').querySelector(`tr.item[data-item-id="${item.id}"]`);
            if (!row) {
              reload = true;
              continue;
            }
            if (row.dataset.state !== item.state) {
              if (FINAL.has(item.state)) reload = true;
              row.dataset.state = item.state;
              row.querySelector('td[data-col="state"]').replaceChildren(badge(item.state));
            }
            row.querySelector('td[data-col="attempts"]').textContent = item.attempts;
            row.querySelector('td[data-col="error"]').textContent = item.last_error || '';
          }
          if (reload) await loadMessage(shown.id);
        }
      } catch (_) {
        // The status line says when the engine cannot be reached.
      }
    }
  }

  function stopItemPolling() {
    itemRound += 1;
    clearTimeout(itemTimer);
  }

  function startItemPolling() {
    stopItemPolling();
    const round = itemRound;
    const tick = async () => {
      if (round !== itemRound) return;
      await pollItemsOnce();
      if (round === itemRound) itemTimer = setTimeout(tick, ITEMS_EVERY_MS);
    };
    itemTimer = setTimeout(tick, ITEMS_EVERY_MS);
  }

  function result(text, bad) {
    const p = $('action-result');
    p.hidden = false;
    p.classList.toggle('bad', Boolean(bad));
    if (text instanceof Node) p.replaceChildren(text);
    else p.textContent = text;
  }

  function showPanel(name) {
    for (const panel of ['reprocess', 'edit', 'discard']) {
      const node = $(`panel-${panel}`);
      node.hidden = panel !== name || !node.hidden;
    }
    if (name === 'edit' && !$('panel-edit').hidden && current) {
      $('edit-body').value = current.raw.replace(/\r\n|\r/g, '\n');
    }
  }

  function hidePanels() {
    for (const panel of ['reprocess', 'edit', 'discard']) $(`panel-${panel}`).hidden = true;
  }

  async function act(event, run) {
    event.preventDefault();
    if (!current) return;
    const id = current.id;
    const buttons = event.target.querySelectorAll('button');
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const answer = await run(id);
      hidePanels();
      await loadMessage(id);
      result(answer);
    } catch (e) {
      result(e.message, true);
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  const reason = (input) => $(input).value.trim() || undefined;

  function wireActions() {
    $('act-reprocess').addEventListener('click', () => showPanel('reprocess'));
    $('act-edit').addEventListener('click', () => showPanel('edit'));
    $('act-discard').addEventListener('click', () => showPanel('discard'));
    $('act-refresh').addEventListener('click', () => current && loadMessage(current.id));
    $('panel-reprocess').addEventListener('submit', (e) => act(e, async (id) => {
      const a = await api('POST', `/api/messages/${id}/reprocess`, { reason: reason('reprocess-reason') });
      return `Reprocessed: ${a.items.length ? `new item(s) ${a.items.join(', ')}` : 'no item'}; message ${a.state}.`;
    }));
    $('panel-edit').addEventListener('submit', (e) => act(e, async (id) => {
      const a = await api('POST', `/api/messages/${id}/reprocess`, {
        body: $('edit-body').value,
        reason: reason('edit-reason'),
      });
      return el('span', {}, 'Stored as ',
        el('a', { href: `#message/${a.new_message}`, text: `message ${a.new_message}` }),
        ` (${a.state}${a.error ? `: ${a.error}` : ''}); ${a.superseded.length} dead letter(s) set aside.`);
    }));
    $('panel-discard').addEventListener('submit', (e) => act(e, async (id) => {
      const body = { reason: $('discard-reason').value.trim() };
      const destination = $('discard-destination').value;
      if (destination) body.destination = destination;
      const a = await api('POST', `/api/messages/${id}/discard`, body);
      const busy = a.in_flight.length ? `; ${a.in_flight.length} being delivered, left alone (pause the destination first)` : '';
      return `Discarded ${a.discarded.length} item(s)${busy}; message ${a.state}.`;
    }));
  }

  // ----- views --------------------------------------------------------------------------

  function route() {
    const m = /^#message\/(\d+)$/.exec(location.hash);
    stopItemPolling();
    if (m) {
      const id = Number(m[1]);
      $('browser').hidden = true;
      $('message').hidden = false;
      $('action-result').hidden = true;
      hidePanels();
      if (!current || current.id !== id) {
        current = null;
        $('segments').replaceChildren();
        $('items').tBodies[0].replaceChildren();
      }
      loadMessage(id).then(startItemPolling);
      window.scrollTo(0, 0);
    } else {
      current = null;
      $('message').hidden = true;
      $('browser').hidden = false;
      if (paging.filters) loadPage();
    }
  }

  async function start() {
    try {
      const response = await fetch('/dashboard/fields.json', { credentials: 'same-origin' });
      if (response.ok) fields = await response.json();
    } catch (_) {
      // Field names are a help, not a need.
    }
    $('field-source').textContent = fields.source ? `Field names: ${fields.source}` : '';
    $('search').addEventListener('submit', search);
    $('search').addEventListener('reset', () => setTimeout(search, 0));
    $('newer').addEventListener('click', () => {
      if (paging.page === 0) return;
      paging.page -= 1;
      loadPage();
    });
    $('older').addEventListener('click', () => {
      if (paging.next === null || paging.next === undefined) return;
      paging.cursors[paging.page + 1] = paging.next;
      paging.page += 1;
      loadPage();
    });
    $('back').addEventListener('click', () => { location.hash = ''; });
    $('show-empty').addEventListener('change', (e) => {
      $('segments').classList.toggle('show-empty', e.target.checked);
    });
    $('logout').addEventListener('click', async () => {
      signingOut = true;
      try {
        await fetch('/logout', { method: 'POST', credentials: 'same-origin', headers: { 'X-HL7-Admin': '1' } });
      } finally {
        location.replace('/');
      }
    });
    wireActions();
    window.addEventListener('hashchange', route);
    paging.filters = new URLSearchParams();
    pollStatus();
    route();
  }

  start();
})();
