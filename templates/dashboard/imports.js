/* Leadline dashboard: the Import / export page. Sends the chosen file as the body of
 * POST /api/imports/preview (and /api/imports, with dry_run) with the session cookie and
 * the page's CSRF token; the mapping chosen in the table goes as map.FIELD parameters.
 * Everything from the file is put into the page with textContent, never as HTML. */
(() => {
  'use strict';
  const root = document.querySelector('[data-import]');
  if (!root) return;
  const $ = (sel) => root.querySelector(sel);
  const csrf = () => { const m = document.querySelector('meta[name="csrf-token"]'); return m ? m.content : ''; };
  const fileInput = $('[data-import-file]');
  const status = $('[data-import-status]');
  const preview = $('[data-import-preview]');
  const result = $('[data-import-result]');
  const runButton = $('[data-import-run]');
  const dryButton = $('[data-import-dry]');
  const selects = Array.from(root.querySelectorAll('[data-map-field]'));
  let file = null;
  let dryRunDone = false;

  const say = (el, kind, text) => { el.className = 'result' + (kind ? ' ' + kind : ''); el.textContent = text || ''; };

  function mapQuery() {
    const q = new URLSearchParams();
    for (const s of selects) q.set('map.' + s.getAttribute('data-map-field'), s.value || '-');
    return q;
  }

  async function send(path, query) {
    let r;
    try {
      r = await fetch(path + '?' + query.toString(), {
        method: 'POST', credentials: 'same-origin', body: file,
        headers: { 'Content-Type': 'text/csv', Accept: 'application/json', 'X-CSRF-Token': csrf() },
      });
    } catch (e) {
      return { ok: false, error: 'Could not reach the server. Check the connection and try again.' };
    }
    let data = null;
    try { data = await r.json(); } catch (e) { /* not JSON */ }
    if (!r.ok) return { ok: false, error: (data && data.error && data.error.message) || ('The server answered ' + r.status + '.') };
    return { ok: true, data };
  }

  function cell(text, cls) {
    const td = document.createElement('td');
    td.textContent = text == null ? '' : String(text);
    if (cls) td.className = cls;
    return td;
  }

  function showPreview(p, firstTime) {
    if (firstTime) {
      for (const s of selects) {
        while (s.options.length > 1) s.remove(1);
        for (const c of p.columns) {
          const o = document.createElement('option');
          o.value = c; o.textContent = c;
          s.append(o);
        }
      }
    }
    for (const m of p.mapping) {
      const s = selects.find((x) => x.getAttribute('data-map-field') === m.field);
      if (s) s.value = m.column == null ? '-' : m.column;
    }
    $('[data-import-file-info]').textContent = p.rows + ' rows · ' + p.columns.length + ' columns · ' +
      p.encoding + ' · delimiter ' + (p.delimiter === '\t' ? 'tab' : p.delimiter);
    const body = $('[data-import-sample] tbody');
    body.textContent = '';
    for (const r of p.sample) {
      const tr = document.createElement('tr');
      const l = r.lead || {};
      tr.append(cell(r.row), cell(l.name), cell(l.email), cell(l.phone), cell(l.property_address),
        cell(l.status), cell(l.source), cell(r.error, r.error ? 'error' : ''));
      if (r.error) tr.setAttribute('data-row-error', '');
      body.append(tr);
    }
    preview.hidden = false;
  }

  async function loadPreview(firstTime) {
    if (!file) return;
    say(status, '', 'Reading ' + file.name + '…');
    const q = firstTime ? new URLSearchParams() : mapQuery();
    const r = await send('/api/imports/preview', q);
    if (!r.ok) { say(status, 'err', r.error); return; }
    say(status, 'ok', '');
    showPreview(r.data, firstTime);
    dryRunDone = false;
    runButton.disabled = true;
    $('[data-import-report]').hidden = true;
    say(result, '', 'Check the columns, then run a dry run.');
  }

  function showReport(rep) {
    const box = $('[data-import-report]');
    box.hidden = false;
    $('[data-import-counts]').textContent = (rep.dry_run ? 'Dry run: would create ' : 'Created ') + rep.created +
      ', ' + (rep.dry_run ? 'fill in ' : 'filled in ') + rep.updated + ' existing, ' + rep.unchanged +
      ' already known as they are, ' + rep.skipped + ' skipped (of ' + rep.rows + ' rows).';
    const list = $('[data-import-skipped]');
    list.textContent = '';
    for (const s of rep.skipped_rows.slice(0, 200)) {
      const li = document.createElement('li');
      li.textContent = 'Row ' + s.row + ': ' + s.reason;
      list.append(li);
    }
    if (rep.skipped_rows.length > 200) {
      const li = document.createElement('li');
      li.textContent = '… and ' + (rep.skipped_rows.length - 200) + ' more.';
      list.append(li);
    }
  }

  fileInput.addEventListener('change', () => {
    file = fileInput.files && fileInput.files[0];
    if (file) loadPreview(true);
  });
  for (const s of selects) s.addEventListener('change', () => loadPreview(false));

  dryButton.addEventListener('click', async () => {
    dryButton.disabled = true;
    say(result, '', 'Checking every row…');
    const q = mapQuery(); q.set('dry_run', 'true');
    const r = await send('/api/imports', q);
    dryButton.disabled = false;
    if (!r.ok) { say(result, 'err', r.error); return; }
    showReport(r.data);
    dryRunDone = true;
    runButton.disabled = false;
    say(result, 'ok', 'Nothing was written. Import when it looks right.');
  });

  runButton.addEventListener('click', async () => {
    if (!dryRunDone) return;
    runButton.disabled = true; dryButton.disabled = true;
    say(result, '', 'Importing…');
    const r = await send('/api/imports', mapQuery());
    dryButton.disabled = false;
    if (!r.ok) { runButton.disabled = false; say(result, 'err', r.error); return; }
    showReport(r.data);
    say(result, 'ok', 'Imported in ' + (r.data.elapsed_ms / 1000).toFixed(1) + ' s.');
  });
})();
