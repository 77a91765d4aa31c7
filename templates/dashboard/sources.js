/* Leadline dashboard: the Lead sources page. Plain ES2018; calls /api/sources with the
 * session cookie and CSRF token; puts what it shows into the page as text, never HTML. */
(() => {
  'use strict';
  if (location.pathname !== '/sources') return;
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const csrf = () => { const m = $('meta[name="csrf-token"]'); return m ? m.content : ''; };

  async function api(method, url, body) {
    const opts = { method, credentials: 'same-origin', headers: { Accept: 'application/json', 'X-CSRF-Token': csrf() } };
    if (body !== undefined) { opts.headers['Content-Type'] = 'application/json'; opts.body = JSON.stringify(body); }
    try {
      const r = await fetch(url, opts);
      let data = null;
      try { data = await r.json(); } catch (e) { /* empty */ }
      const error = r.ok ? null : ((data && data.error && data.error.message) || ('The server answered ' + r.status + '.'));
      return { ok: r.ok, data, error };
    } catch (e) {
      return { ok: false, data: null, error: 'Could not reach the server.' };
    }
  }
  const say = (form, kind, text) => {
    const el = $('[data-result]', form);
    if (el) { el.className = 'result' + (kind ? ' ' + kind : ''); el.textContent = text || ''; }
  };
  const lines = (v) => (v || '').split(/[\n,]/).map((s) => s.trim()).filter(Boolean);
  const value = (form, name) => { const el = form.elements[name]; return el ? el.value.trim() : ''; };

  // The create form shows the fields of the chosen kind.
  const create = $('[data-source-create]');
  if (create) {
    const kind = $('[data-source-kind]', create);
    const show = () => {
      for (const el of $$('[data-for-kinds]', create)) {
        el.hidden = !el.getAttribute('data-for-kinds').split(' ').includes(kind.value);
      }
      const label = $('[data-secret-label]', create);
      if (label) {
        label.textContent = { google_ads: 'google_key (as set in the Google lead form)', facebook: 'Page access token',
          angi: 'x-api-key given to Angi (optional)', generic: 'Shared secret (optional)' }[kind.value] || 'Secret';
      }
    };
    kind.addEventListener('change', show);
    show();
    create.addEventListener('submit', async (e) => {
      e.preventDefault();
      const body = { kind: kind.value, name: value(create, 'name') };
      const secret = value(create, 'secret');
      if (secret && !create.elements.secret.closest('label').hidden) body.secret = secret;
      if (kind.value === 'facebook') body.page_id = value(create, 'page_id');
      if (kind.value === 'web_form') body.config = { allowed_origins: lines(value(create, 'allowed_origins')) };
      say(create, '', 'Adding…');
      const r = await api('POST', '/api/sources', body);
      if (!r.ok) { say(create, 'error', r.error); return; }
      location.reload();
    });
  }

  for (const card of $$('[data-source]')) {
    const id = card.getAttribute('data-source-id');
    const kind = card.getAttribute('data-source-kind');
    const edit = $('[data-source-edit]', card);
    if (edit) {
      edit.addEventListener('submit', async (e) => {
        e.preventDefault();
        const body = { name: value(edit, 'name'), enabled: edit.elements.enabled.checked };
        const secret = value(edit, 'secret');
        if (secret) body.secret = secret;
        const config = {};
        if (kind === 'web_form') {
          config.allowed_origins = lines(value(edit, 'allowed_origins'));
          const site = value(edit, 'site_id');
          if (site) config.site_id = Number(site);
          const redirect = value(edit, 'redirect_url');
          if (redirect) config.redirect_url = redirect;
          const thanks = value(edit, 'thank_you');
          if (thanks) config.thank_you = thanks;
        }
        if (edit.elements.mapping) {
          const raw = value(edit, 'mapping');
          try { config.mapping = raw ? JSON.parse(raw) : {}; } catch (err) {
            say(edit, 'error', 'The mapping is not valid JSON: ' + err.message); return;
          }
          if (edit.elements.secret_header && value(edit, 'secret_header')) config.secret_header = value(edit, 'secret_header');
          if (edit.elements.provider) config.provider = value(edit, 'provider');
        }
        if (Object.keys(config).length) body.config = config;
        say(edit, '', 'Saving…');
        const r = await api('PATCH', '/api/sources/' + id, body);
        if (!r.ok) { say(edit, 'error', r.error); return; }
        edit.elements.secret.value = '';
        say(edit, 'ok', 'Saved');
      });
      const del = $('[data-source-delete]', edit);
      del.addEventListener('click', async () => {
        if (!confirm('Remove this source? Its URL stops working; recorded leads stay.')) return;
        const r = await api('DELETE', '/api/sources/' + id);
        if (!r.ok) { say(edit, 'error', r.error); return; }
        card.remove();
      });
    }
    const preview = $('[data-source-preview]', card);
    if (preview) {
      preview.addEventListener('submit', async (e) => {
        e.preventDefault();
        const out = $('[data-preview-out]', preview);
        let payload, mapping;
        try { payload = JSON.parse(value(preview, 'payload') || '{}'); } catch (err) {
          say(preview, 'error', 'The sample is not valid JSON: ' + err.message); return;
        }
        const body = { payload };
        if (edit && edit.elements.mapping) {
          try { mapping = JSON.parse(value(edit, 'mapping') || '{}'); body.mapping = mapping; } catch (err) {
            say(preview, 'error', 'The mapping is not valid JSON: ' + err.message); return;
          }
        }
        const r = await api('POST', '/api/sources/' + id + '/preview', body);
        if (!r.ok) { say(preview, 'error', r.error); out.hidden = true; return; }
        say(preview, r.data.error ? 'error' : 'ok', r.data.error || 'This payload would be recorded as:');
        out.textContent = JSON.stringify(r.data, null, 2);
        out.hidden = false;
      });
    }
  }
})();
