/* Leadline dashboard: the little script the pages need. Plain ES2018, no dependencies,
 * no request to anywhere but this server. Calls the JSON API with the session cookie and
 * the page's CSRF token. Everything that comes from the server or from people is put
 * into the page with textContent, never as HTML. */
(() => {
  'use strict';

  // ---------------------------------------------------------------- widget preview
  // The preview page answers the widget's settings request itself, with the settings the
  // page was rendered with (saved ones, overridden by the form's unsaved values).
  if (location.pathname === '/integrations/widget-preview') {
    const realFetch = window.fetch.bind(window);
    window.fetch = (input, init) => {
      const url = new URL(typeof input === 'string' ? input : input.url, location.href);
      if (url.origin === location.origin && url.pathname === '/api/chat/site') {
        let settings = {};
        try { settings = JSON.parse(document.body.getAttribute('data-settings') || '{}'); } catch (e) { /* defaults */ }
        return Promise.resolve(new Response(JSON.stringify({ settings }), {
          status: 200, headers: { 'Content-Type': 'application/json' },
        }));
      }
      return realFetch(input, init);
    };
    // The preview must not take the focus from the form it sits next to (the widget
    // focuses its input when it opens): focus() only works once someone used the frame.
    let used = false;
    addEventListener('pointerdown', () => { used = true; }, true);
    addEventListener('keydown', () => { used = true; }, true);
    const focus = HTMLElement.prototype.focus;
    HTMLElement.prototype.focus = function (...args) { if (used) focus.apply(this, args); };
    const openWhenReady = (tries) => {
      // open() before the widget has its settings is remembered and done once it has.
      if (window.LeadlineWidget) {
        window.LeadlineWidget.open();
      } else if (tries > 0) {
        setTimeout(() => openWhenReady(tries - 1), 50);
      }
    };
    window.addEventListener('load', () => openWhenReady(100));
    return;
  }

  // ---------------------------------------------------------------- helpers
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const csrf = () => { const m = $('meta[name="csrf-token"]'); return m ? m.content : ''; };

  /** fetch with the session cookie and CSRF token: {ok, status, data, error}. */
  async function api(method, url, body) {
    const opts = { method, credentials: 'same-origin', headers: { Accept: 'application/json', 'X-CSRF-Token': csrf() } };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    let r;
    try { r = await fetch(url, opts); } catch (e) {
      return { ok: false, status: 0, data: null, error: 'Could not reach the server. Check the connection and try again.' };
    }
    let data = null;
    try { data = await r.json(); } catch (e) { /* empty body */ }
    let error = null;
    const code = data && data.error ? data.error.code : null;
    if (!r.ok) {
      error = (data && data.error && data.error.message) || ('The server answered ' + r.status + '.');
      if (r.status === 401) error = 'Your session has ended. Reload the page to sign in again.';
    }
    return { ok: r.ok, status: r.status, data, error, code };
  }

  /** Element builder; strings become text nodes (never HTML). */
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c == null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  function say(el, kind, text) {
    if (!el) return;
    el.className = 'result' + (kind ? ' ' + kind : '');
    el.textContent = text || '';
  }

  function ago(iso) {
    const t = Date.parse(iso);
    if (!t) return '';
    const s = Math.max(0, (Date.now() - t) / 1000);
    if (s < 60) return 'just now';
    if (s < 3600) return Math.floor(s / 60) + ' min ago';
    if (s < 86400) return Math.floor(s / 3600) + ' h ago';
    const d = Math.floor(s / 86400);
    if (d < 14) return d + (d === 1 ? ' day ago' : ' days ago');
    return new Date(t).toLocaleDateString();
  }

  function clock(iso) {
    const t = new Date(iso);
    if (isNaN(t)) return '';
    const time = t.toLocaleTimeString([], { hour: 'numeric', minute: '2-digit' });
    if (t.toDateString() === new Date().toDateString()) return time;
    return t.toLocaleDateString([], { month: 'short', day: 'numeric' }) + ', ' + time;
  }

  /** A form's fields as the JSON the API expects (see data-type / data-optional). */
  function formJson(form) {
    const out = {};
    for (const el of form.elements) {
      if (!el.name || el.disabled || el.type === 'submit' || el.type === 'button') continue;
      if (el.type === 'radio' && !el.checked) continue;
      const type = el.getAttribute('data-type');
      let v;
      if (type === 'bool') v = el.checked;
      else {
        const raw = el.value.trim();
        if (raw === '' && (el.hasAttribute('data-optional') || el.hasAttribute('data-write-only'))) continue;
        if (type === 'int') { v = parseInt(raw, 10); if (isNaN(v)) continue; }
        else if (type === 'list') v = raw.split(/[\n,]+/).map((s) => s.trim()).filter(Boolean);
        else if (type === 'csv') v = raw.split(',').map((s) => s.trim()).filter(Boolean);
        else v = el.type === 'password' ? el.value : raw;
      }
      const path = el.name.split('.');
      let o = out;
      for (const p of path.slice(0, -1)) o = o[p] = o[p] || {};
      o[path[path.length - 1]] = v;
    }
    return out;
  }

  async function busy(button, fn) {
    if (button) button.disabled = true;
    try { return await fn(); } finally { if (button) button.disabled = false; }
  }

  const reloadSoon = (ms) => setTimeout(() => location.reload(), ms || 900);

  async function copyText(text) {
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
        return true;
      }
    } catch (e) { /* fall back below */ }
    const ta = h('textarea', { readonly: true, 'aria-hidden': 'true' });
    ta.value = text;
    ta.style.position = 'fixed';
    ta.style.opacity = '0';
    document.body.append(ta);
    ta.select();
    let ok = false;
    try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
    ta.remove();
    return ok;
  }

  // The helpers automations.js (hours, templates, sequences, follow-ups) builds on.
  window.Leadline = Object.freeze({ $, $$, api, h, say, busy, reloadSoon, formJson });

  // ---------------------------------------------------------------- the bell
  // The unread count: read on every page and every 30 s. The Alerts page itself listens
  // to /api/alerts/stream (server-sent events, same origin: the session cookie goes
  // along) and shows each new alert as it is made; other pages hold no open connection.
  function initBell() {
    const bell = $('[data-bell]');
    if (!bell) return;
    const count = $('[data-bell-count]', bell);
    let unread = 0;
    const show = (n) => { unread = n; count.textContent = String(n); count.hidden = n <= 0; };
    const refresh = () => api('GET', '/api/alerts?unread=true&limit=1').then((r) => {
      if (r.ok && r.data) show(r.data.unread || 0);
    });
    refresh();
    setInterval(() => { if (!document.hidden) refresh(); }, 30000);
    const list = $('[data-alerts]') || $('[data-alerts-empty]');
    if (list && window.EventSource) {
      const es = new EventSource('/api/alerts/stream');
      es.addEventListener('alert', (ev) => {
        let fresh = [];
        try { fresh = JSON.parse(ev.data); } catch (e) { return; }
        show(unread + fresh.length);
        let ul = $('[data-alerts]');
        if (!ul) {
          const empty = $('[data-alerts-empty]');
          ul = h('ul', { class: 'alert-list', 'data-alerts': true });
          if (empty) empty.replaceWith(ul);
        }
        for (const a of fresh) {
          const text = a.lead_id ? h('a', { href: '/leads/' + a.lead_id }, a.message) : a.message;
          ul.prepend(h('li', { class: 'alert-item unread', 'data-alert-id': a.id }, h('span', { class: 'alert-kind' }, a.kind), text));
        }
      });
      window.addEventListener('pagehide', () => es.close());
    }
    const readAll = $('[data-alerts-read-all]');
    if (readAll) {
      readAll.addEventListener('click', () => busy(readAll, async () => {
        await api('POST', '/api/alerts/read-all', {});
        for (const li of $$('[data-alert-id]')) li.classList.remove('unread');
        show(0);
        readAll.hidden = true;
      }));
    }
  }

  // ---------------------------------------------------------------- everywhere
  function initCommon() {
    initBell();
    for (const s of $$('select[data-autosubmit]')) s.addEventListener('change', () => s.form.submit());
    for (const b of $$('[data-copy]')) {
      b.addEventListener('click', async () => {
        const src = $(b.getAttribute('data-copy'));
        if (!src) return;
        const ok = await copyText(src.textContent.trim());
        const label = b.textContent;
        b.textContent = ok ? 'Copied' : 'Select and copy';
        b.classList.toggle('copied', ok);
        if (!ok) {
          const r = document.createRange();
          r.selectNodeContents(src);
          const sel = getSelection();
          sel.removeAllRanges();
          sel.addRange(r);
        }
        setTimeout(() => { b.textContent = label; b.classList.remove('copied'); }, 2500);
      });
    }
  }

  // ---------------------------------------------------------------- home
  const HEALTH_DOT = { healthy: 'healthy', degraded: 'degraded', error: 'error', not_configured: 'not_connected' };
  const HEALTH_TEXT = { healthy: 'Healthy', degraded: 'Degraded', error: 'Error', not_configured: 'Not set up' };

  async function initHealth(box) {
    const r = await api('GET', '/api/health/integrations');
    const list = r.ok && r.data ? (Array.isArray(r.data) ? r.data : (r.data.integrations || r.data.items || [])) : null;
    if (!list) {
      box.replaceChildren(h('p', { class: 'muted', 'data-test': 'health-unavailable' }, 'Health unavailable right now.'));
      return;
    }
    if (!list.length) {
      box.replaceChildren(h('p', { class: 'muted' }, 'No integrations yet. ', h('a', { href: '/integrations' }, 'Connect one')));
      return;
    }
    box.replaceChildren(...list.map((it) => {
      const status = it.status || (it.configured ? 'healthy' : 'not_configured');
      const details = [];
      if (it.last_error && status !== 'healthy') details.push('Last error' + (it.last_error_at ? ' ' + ago(it.last_error_at) : '') + ': ' + it.last_error);
      if (it.last_success_at) details.push('Last OK ' + ago(it.last_success_at));
      return h('div', { class: 'health-item', 'data-kind': it.kind || '' },
        h('span', { class: 'dot dot-' + (HEALTH_DOT[status] || 'not_connected') }),
        h('div', {},
          h('div', {}, h('span', { class: 'health-name' }, it.name || it.kind || 'Integration'), ' ',
            h('span', { class: 'muted small' }, HEALTH_TEXT[status] || String(status))),
          details.length ? h('div', { class: 'muted small' }, details.join(' · ')) : null));
    }));
  }

  // ---------------------------------------------------------------- integrations: email
  const PRESETS = {
    gmail: ['imap.gmail.com', 993, 'tls', 'smtp.gmail.com', 465, 'tls'],
    outlook: ['outlook.office365.com', 993, 'tls', 'smtp.office365.com', 587, 'starttls'],
    yahoo: ['imap.mail.yahoo.com', 993, 'tls', 'smtp.mail.yahoo.com', 465, 'tls'],
    icloud: ['imap.mail.me.com', 993, 'tls', 'smtp.mail.me.com', 587, 'starttls'],
  };

  function showChecks(sec, report) {
    const box = $('[data-test-results]', sec);
    box.hidden = false;
    for (const side of ['imap', 'smtp']) {
      const c = $('[data-check="' + side + '"]', box);
      const res = (report && report[side]) || {};
      c.classList.toggle('ok', !!res.ok);
      c.classList.toggle('fail', !res.ok);
      $('.check-icon', c).textContent = res.ok ? '✓' : '✕';
      $('.check-msg', c).textContent = res.ok ? 'Connected and signed in.' : (res.error || 'Failed.');
    }
  }

  function setStatus(sec, state, text) {
    const s = $('.status', sec);
    if (!s) return;
    $('.dot', s).className = 'dot dot-' + state;
    $('[data-status-text]', s).textContent = text;
  }

  const INBOUND_KEY = 'leadline.sendgrid-inbound';
  function initEmail(sec) {
    const form = $('[data-email-form]', sec);
    const result = $(':scope > [data-result]', sec);
    const connected = sec.getAttribute('data-connected') === 'true';
    $('[data-email-preset]', sec).addEventListener('change', (e) => {
      const p = PRESETS[e.target.value];
      if (!p) return;
      const set = (n, v) => { form.elements[n].value = v; };
      set('imap_server', p[0]); set('imap_port', p[1]); set('imap_security', p[2]);
      set('smtp_server', p[3]); set('smtp_port', p[4]); set('smtp_security', p[5]);
    });
    const testBtn = $('[data-email-test]', sec);
    testBtn.addEventListener('click', () => busy(testBtn, async () => {
      const body = formJson(form);
      if (!body.password && !connected) {
        say(result, 'err', 'Enter the app password to test these settings.');
        return;
      }
      say(result, 'busy', 'Testing IMAP and SMTP…');
      $('[data-test-results]', sec).hidden = true;
      // Without a password the saved settings are tested.
      const r = body.password
        ? await api('POST', '/api/integrations/email/test', body)
        : await api('POST', '/api/integrations/email/test');
      if (!r.ok) { say(result, 'err', r.error); return; }
      showChecks(sec, r.data);
      const ok = r.data.imap.ok && r.data.smtp.ok;
      say(result, ok ? 'ok' : 'err', ok ? 'Both servers accepted the settings.' : 'The test failed: see what the server said above.');
    }));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const btn = e.submitter;
      busy(btn, async () => {
        const body = formJson(form);
        if (!body.password) {
          say(result, 'err', 'Enter the app password to save: it is never shown again, so changing the settings needs it once more.');
          return;
        }
        say(result, 'busy', 'Testing the servers and connecting…');
        const r = await api('POST', '/api/integrations/email/connect', body);
        if (!r.ok) { say(result, 'err', r.error); return; }
        form.elements.password.value = '';
        setStatus(sec, 'syncing', 'Waiting for the first sync');
        say(result, 'ok', 'Connected ' + (r.data.email || '') + '. The first sync starts within a minute.');
        // The SendGrid URL is shown this once, on the reloaded page (then forgotten).
        if (r.data.sendgrid_inbound_path) {
          try { sessionStorage.setItem(INBOUND_KEY, r.data.sendgrid_inbound_path); } catch (err) { /* not shown */ }
        }
        reloadSoon(1500);
      });
    });
    function showInbound(path) {
      $('[data-inbound-url]', sec).textContent = location.origin + path;
      $('[data-inbound-row]', sec).hidden = false;
      $('[data-inbound]', sec).hidden = false;
    }
    let shown = null;
    try { shown = sessionStorage.getItem(INBOUND_KEY); sessionStorage.removeItem(INBOUND_KEY); } catch (err) { /* none */ }
    if (shown && connected) showInbound(shown);
    const rotate = $('[data-inbound-rotate]', sec);
    if (rotate) {
      rotate.addEventListener('click', () => busy(rotate, async () => {
        if (!confirm('Make a new SendGrid URL? The current one stops working at once.')) return;
        const r = await api('POST', '/api/integrations/email/rotate-inbound-token');
        if (!r.ok) { say(result, 'err', r.error); return; }
        showInbound(r.data.sendgrid_inbound_path);
        say(result, 'ok', 'New SendGrid URL made: copy it now, it is not shown again.');
      }));
    }
    const syncBtn = $('[data-email-sync]', sec);
    if (syncBtn) {
      syncBtn.addEventListener('click', () => busy(syncBtn, async () => {
        setStatus(sec, 'syncing', 'Syncing…');
        say(result, 'busy', 'Syncing the mailbox…');
        const r = await api('POST', '/api/integrations/email/sync');
        if (!r.ok) {
          setStatus(sec, 'error', 'Error');
          say(result, 'err', r.error);
          return;
        }
        setStatus(sec, 'connected', 'Connected');
        const d = r.data || {};
        say(result, 'ok', 'Synced: ' + (d.fetched || 0) + ' fetched, ' + (d.stored || 0) + ' new, ' + (d.duplicates || 0) + ' already known' + (d.quarantined ? ', ' + d.quarantined + ' quarantined (see below)' : '') + '.');
        reloadSoon(1800);
      }));
    }
    const disc = $('[data-email-disconnect]', sec);
    if (disc) {
      disc.addEventListener('click', () => busy(disc, async () => {
        if (!confirm('Disconnect this mailbox? Syncing stops and the stored password is erased. Messages already synced stay.')) return;
        const r = await api('DELETE', '/api/integrations/email/disconnect');
        if (!r.ok) { say(result, 'err', r.error); return; }
        say(result, 'ok', 'Disconnected.');
        reloadSoon();
      }));
    }
  }

  // ---------------------------------------------------------------- integrations: SMS
  function initSms(sec) {
    const form = $('[data-sms-form]', sec);
    const result = $(':scope > [data-result]', sec);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      busy(e.submitter, async () => {
        const body = formJson(form);
        if (!body.api_key) {
          say(result, 'err', 'Enter the Telnyx API key to save: it is never shown again, so changing the settings needs it once more.');
          return;
        }
        say(result, 'busy', 'Saving…');
        const r = await api('POST', '/api/integrations/sms/connect', body);
        if (!r.ok) { say(result, 'err', r.error); return; }
        form.elements.api_key.value = '';
        say(result, 'ok', 'Connected ' + (r.data.phone_numbers || []).join(', ') + '.');
        reloadSoon(1200);
      });
    });
    const disc = $('[data-sms-disconnect]', sec);
    if (disc) {
      disc.addEventListener('click', () => busy(disc, async () => {
        if (!confirm('Disconnect Telnyx? Texts stop, the stored key and the numbers are removed. Messages already received stay.')) return;
        const r = await api('DELETE', '/api/integrations/sms/disconnect');
        if (!r.ok) { say(result, 'err', r.error); return; }
        say(result, 'ok', 'Disconnected.');
        reloadSoon();
      }));
    }
  }

  // ---------------------------------------------------------------- integrations: chat
  function initChat(sec) {
    const widget = $('[data-widget-form]', sec);
    if (widget) {
      const frame = $('[data-preview]', sec);
      const siteId = widget.elements.site_id.value;
      const colorCode = $('[data-color-value]', sec);
      let timer = 0;
      const refresh = () => {
        const p = new URLSearchParams({ site_id: siteId });
        for (const el of widget.elements) {
          if (!el.name || el.name === 'site_id' || el.name === 'ai_responses') continue;
          p.set(el.name, el.type === 'checkbox' ? String(el.checked) : el.value);
        }
        frame.src = '/integrations/widget-preview?' + p.toString();
      };
      widget.addEventListener('input', (e) => {
        if (e.target.name === 'color_theme') colorCode.textContent = e.target.value;
        clearTimeout(timer);
        timer = setTimeout(refresh, 350);
      });
      widget.addEventListener('change', () => { clearTimeout(timer); timer = setTimeout(refresh, 100); });
      widget.addEventListener('submit', (e) => {
        e.preventDefault();
        const result = $('[data-result]', widget);
        busy(e.submitter, async () => {
          say(result, 'busy', 'Saving…');
          const r = await api('POST', '/api/integrations/chat/settings', formJson(widget));
          if (!r.ok) { say(result, 'err', r.error); return; }
          say(result, 'ok', 'Saved. Visitors see it on their next page view.');
          refresh();
        });
      });
    }
    const siteForm = $('[data-site-form]', sec);
    if (siteForm) {
      const id = siteForm.getAttribute('data-site-id');
      const result = $('[data-result]', siteForm);
      siteForm.addEventListener('submit', (e) => {
        e.preventDefault();
        busy(e.submitter, async () => {
          const body = formJson(siteForm);
          body.allowed_origins = body.allowed_origins || [];
          const r = await api('PATCH', '/api/integrations/chat/sites/' + encodeURIComponent(id), body);
          if (!r.ok) { say(result, 'err', r.error); return; }
          say(result, 'ok', 'Saved.');
          reloadSoon();
        });
      });
      const del = $('[data-site-delete]', siteForm);
      del.addEventListener('click', () => busy(del, async () => {
        if (!confirm('Remove this website? Its widget stops working. Conversations already held stay.')) return;
        const r = await api('DELETE', '/api/integrations/chat/sites/' + encodeURIComponent(id));
        if (!r.ok) { say(result, 'err', r.error); return; }
        location.href = '/integrations#chat';
      }));
    }
    const add = $('[data-new-site-form]', sec);
    add.addEventListener('submit', (e) => {
      e.preventDefault();
      const result = $('[data-result]', add);
      busy(e.submitter, async () => {
        const body = formJson(add);
        body.allowed_origins = body.allowed_origins || [];
        const r = await api('POST', '/api/integrations/chat/sites', body);
        if (!r.ok) { say(result, 'err', r.error); return; }
        location.href = '/integrations?site=' + encodeURIComponent(r.data.id) + '#chat';
      });
    });
  }

  // ---------------------------------------------------------------- integrations: AI
  function initAi(sec) {
    // Members see the facts without the form (only admins and owners change them).
    const company = $('[data-company-form]', sec);
    if (company) {
      company.addEventListener('submit', (e) => {
        e.preventDefault();
        const result = $('[data-result]', company);
        busy(e.submitter, async () => {
          const body = formJson(company);
          body.services = body.services || [];
          const r = await api('PUT', '/api/settings/company', body);
          say(result, r.ok ? 'ok' : 'err', r.ok ? 'Saved. Replies use these facts from now on.' : r.error);
        });
      });
    }
    const preview = $('[data-ai-preview]', sec);
    preview.addEventListener('submit', (e) => {
      e.preventDefault();
      const result = $('[data-result]', preview);
      const box = $('[data-ai-reply]', preview);
      busy(e.submitter, async () => {
        say(result, 'busy', 'Asking the responder…');
        const text = preview.elements.text.value;
        const r = await api('POST', '/api/ai/preview', {
          conversation: [{ direction: 'inbound', text }],
          channel: preview.elements.channel.value,
        });
        if (!r.ok) { box.hidden = true; say(result, 'err', r.error); return; }
        say(result, '', '');
        const d = r.data;
        box.hidden = false;
        $('[data-ai-meta]', box).textContent = 'Answered by ' + d.provider + (d.model ? ' (' + d.model + ')' : '') +
          (d.fallback_reason ? ' — fell back to the rules: ' + d.fallback_reason : '') +
          (d.intents && d.intents.length ? ' · detected: ' + d.intents.join(', ') : '');
        const subj = $('[data-ai-subject]', box);
        subj.hidden = !d.subject;
        subj.textContent = d.subject ? 'Subject: ' + d.subject : '';
        $('[data-ai-text]', box).textContent = d.text;
      });
    });
  }

  // ---------------------------------------------------------------- integrations: quarantine
  function initQuarantine(sec) {
    const result = $('[data-result]', sec);
    sec.querySelectorAll('[data-quarantine-item]').forEach((row) => {
      const id = row.getAttribute('data-quarantine-item');
      const retry = $('[data-quarantine-retry]', row);
      const discard = $('[data-quarantine-discard]', row);
      retry.addEventListener('click', () => busy(retry, async () => {
        const r = await api('POST', '/api/quarantine/' + id + '/retry');
        if (!r.ok) { say(result, 'err', r.error); return; }
        say(result, 'ok', r.data.status === 'duplicate' ? 'It was stored already.' : 'Stored.');
        row.remove();
      }));
      discard.addEventListener('click', () => busy(discard, async () => {
        if (!confirm('Discard this message for good? It cannot be recovered.')) return;
        const r = await api('DELETE', '/api/quarantine/' + id);
        if (!r.ok) { say(result, 'err', r.error); return; }
        say(result, 'ok', 'Discarded.');
        row.remove();
      }));
    });
  }

  // ---------------------------------------------------------------- integrations: outbox
  function initOutbox(sec) {
    const result = $('[data-result]', sec);
    sec.querySelectorAll('[data-outbox-item]').forEach((row) => {
      const btn = $('[data-outbox-again]', row);
      btn.addEventListener('click', () => busy(btn, async () => {
        const r = await api('POST', '/api/outbox/' + row.getAttribute('data-outbox-item') + '/send-again');
        if (!r.ok) { say(result, 'err', r.error); return; }
        say(result, 'ok', 'Queued to send again.');
        row.remove();
      }));
    });
  }

  // ---------------------------------------------------------------- integrations: API keys
  function initKeys(sec) {
    const result = $('[data-result]', sec);
    sec.querySelectorAll('[data-key-item]').forEach((row) => {
      const btn = $('[data-key-revoke]', row);
      if (!btn) return;
      btn.addEventListener('click', () => busy(btn, async () => {
        if (!confirm('Revoke this key? Everything using it stops working at once.')) return;
        const r = await api('DELETE', '/api/keys/' + row.getAttribute('data-key-item'));
        if (!r.ok) { say(result, 'err', r.error); return; }
        say(result, 'ok', 'Revoked.');
        reloadSoon();
      }));
    });
    const form = $('[data-key-form]', sec);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const btn = $('button[type=submit]', form);
      busy(btn, async () => {
        const r = await api('POST', '/api/keys', { name: form.elements.name.value });
        if (!r.ok) { say(result, 'err', r.error); return; }
        $('[data-key-value]', sec).textContent = r.data.api_key;
        $('[data-key-new]', sec).hidden = false;
        form.reset();
      });
    });
  }

  // ---------------------------------------------------------------- lead profile
  function initLead() {
    const form = $('[data-reply]');
    if (form) {
      const id = parseInt(form.getAttribute('data-lead-id'), 10);
      const result = $('[data-result]', form);
      const subjectField = $('[data-email-only]', form);
      const sync = () => {
        const ch = form.elements.channel.value;
        subjectField.hidden = ch !== 'email';
      };
      for (const r of $$('input[name=channel]', form)) r.addEventListener('change', sync);
      sync();
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        busy(e.submitter, async () => {
          const ch = form.elements.channel.value;
          const text = form.elements.text.value.trim();
          if (!ch) { say(result, 'err', 'Choose a channel.'); return; }
          if (!text) { say(result, 'err', 'Write a message first.'); return; }
          say(result, 'busy', 'Sending…');
          const r = ch === 'email'
            ? await api('POST', '/api/integrations/email/send', { lead_id: id, subject: form.elements.subject.value.trim() || 'About your roof', body_text: text })
            : await api('POST', '/api/sms/send', { lead_id: id, text });
          if (!r.ok) {
            const notConnected = r.code === 'sms_not_connected' || r.code === 'email_not_connected';
            say(result, 'err', r.error + (notConnected ? ' (Set it up under Integrations.)' : ''));
            return;
          }
          form.elements.text.value = '';
          const warn = r.data && r.data.warnings && r.data.warnings.length ? ' (' + r.data.warnings.join('; ') + ')' : '';
          say(result, 'ok', 'Queued' + warn + '. It appears in the timeline once it is sent.');
        });
      });
    }
    const assign = $('[data-lead-assign]');
    if (assign) {
      const out = $('[data-assign-result]');
      assign.addEventListener('change', () => busy(assign, async () => {
        const v = assign.value;
        const r = await api('PATCH', '/api/leads/' + encodeURIComponent(assign.getAttribute('data-lead-id')),
          { assigned_user_id: v === '' ? null : parseInt(v, 10) });
        if (!r.ok) { say(out, 'err', r.error); return; }
        // Show what the server stored, not what was picked.
        const stored = r.data && r.data.assigned_user_id != null ? String(r.data.assigned_user_id) : '';
        if (r.data && 'assigned_user_id' in r.data) assign.value = stored;
        const opt = assign.selectedOptions[0];
        say(out, 'ok', assign.value ? 'Assigned to ' + (opt ? opt.textContent : '') : 'Unassigned');
      }));
    }
    const status = $('[data-lead-status]');
    if (status) {
      const out = $('[data-status-result]');
      status.addEventListener('change', async () => {
        const r = await api('PATCH', '/api/leads/' + encodeURIComponent(status.getAttribute('data-lead-id')), { status: status.value });
        if (!r.ok) { say(out, 'err', r.error); return; }
        say(out, 'ok', 'Saved');
        reloadSoon(600);
      });
    }
  }

  // ---------------------------------------------------------------- team
  /** Shows a link the server could not email, to pass on by hand, or says it was mailed. */
  function showLink(box, result, sent, email, kind) {
    if (!box) return;
    if (sent.link) {
      const life = kind === 'invitation' ? '72 hours' : '2 hours';
      $('[data-link-text]', box).textContent = 'No mailbox is connected, so we could not email this ' + kind +
        ': send this link to ' + email + ' yourself. It works once, for ' + life + '.';
      $('[data-link-value]', box).textContent = sent.link;
      box.hidden = false;
      say(result, '', '');
    } else {
      box.hidden = true;
      say(result, 'ok', (kind === 'invitation' ? 'Invitation' : 'Password link') + ' emailed to ' + email + '.');
    }
  }

  function initTeam() {
    const team = $('[data-team]');
    const result = $(':scope > [data-result]', team);
    const linkBox = $(':scope > [data-link-box]', team);
    for (const row of $$('tr[data-user-id]', team)) {
      const id = row.getAttribute('data-user-id');
      const email = row.getAttribute('data-user-email');
      const patch = (body) => api('PATCH', '/api/users/' + encodeURIComponent(id), body);
      const role = $('[data-user-role]', row);
      if (role) {
        let was = role.value;
        role.addEventListener('change', () => busy(role, async () => {
          const r = await patch({ role: role.value });
          if (!r.ok) { role.value = was; say(result, 'err', r.error); return; }
          was = r.data.role;
          role.value = was;
          say(result, 'ok', email + ' is now ' + (was === 'admin' ? 'an ' : 'a ') + was + ' (signed out: they sign in again with the new role).');
        }));
      }
      const toggle = $('[data-user-toggle]', row);
      if (toggle) {
        toggle.addEventListener('click', () => busy(toggle, async () => {
          const disable = toggle.getAttribute('data-disabled') !== 'true';
          if (disable && !confirm('Disable ' + email + '? They are signed out at once and cannot sign in until enabled again.')) return;
          const r = await patch({ disabled: disable });
          if (!r.ok) { say(result, 'err', r.error); return; }
          say(result, 'ok', email + (disable ? ' is disabled.' : ' is enabled again.'));
          reloadSoon();
        }));
      }
      const link = $('[data-user-link]', row);
      if (link) {
        link.addEventListener('click', () => busy(link, async () => {
          const r = await api('POST', '/api/users/' + encodeURIComponent(id) + '/password-link');
          if (!r.ok) { say(result, 'err', r.error); return; }
          const kind = row.getAttribute('data-status') === 'invited' ? 'invitation' : 'password link';
          showLink(linkBox, result, r.data, email, kind);
        }));
      }
    }

    const invite = $('[data-invite-form]');
    if (invite) {
      const sec = $('[data-invite]');
      const out = $('[data-result]', invite);
      invite.addEventListener('submit', (e) => {
        e.preventDefault();
        busy(e.submitter, async () => {
          const body = formJson(invite);
          const r = await api('POST', '/api/users/invitations', body);
          if (!r.ok) { $('[data-link-box]', sec).hidden = true; say(out, 'err', r.error); return; }
          invite.reset();
          showLink($('[data-link-box]', sec), out, r.data, r.data.user.email, 'invitation');
          // The list shows the new person after a reload; the link stays on screen until then.
          if (r.data.user && !$('tr[data-user-id="' + r.data.user.id + '"]', team)) {
            $('tbody', team).append(h('tr', { 'data-user-id': r.data.user.id, 'data-user-email': r.data.user.email, 'data-status': 'invited' },
              h('td', {}, h('strong', {}, r.data.user.name || r.data.user.email)),
              h('td', {}, h('span', { class: 'role-chip role-' + r.data.user.role }, r.data.user.role)),
              h('td', {}, h('span', { class: 'chip status-invited' }, 'invited')),
              h('td', {}, h('span', { class: 'muted' }, 'off')),
              h('td', {}, h('span', { class: 'muted' }, 'never')),
              h('td', {})));
          }
        });
      });
    }

    const rule = $('[data-assignment-form]');
    if (rule) {
      const out = $('[data-result]', rule);
      const sync = () => {
        const v = (rule.elements.rule.value || 'nobody');
        for (const el of $$('[data-rule-only]', rule)) el.hidden = el.getAttribute('data-rule-only') !== v;
      };
      for (const r of $$('input[name=rule]', rule)) r.addEventListener('change', sync);
      sync();
      rule.addEventListener('submit', (e) => {
        e.preventDefault();
        busy(e.submitter, async () => {
          const which = rule.elements.rule.value || 'nobody';
          const body = { rule: which, member_ids: [] };
          if (which === 'one') body.user_id = parseInt(rule.elements.user_id.value, 10);
          if (which === 'round_robin') body.member_ids = $$('input[name=member_ids]:checked', rule).map((c) => parseInt(c.value, 10));
          const r = await api('PUT', '/api/settings/assignment', body);
          say(out, r.ok ? 'ok' : 'err', r.ok ? 'Saved. New leads follow this rule from now on.' : r.error);
        });
      });
    }

    const require = $('[data-require-totp]');
    if (require) {
      const out = $('[data-security-settings] [data-result]');
      require.addEventListener('change', () => busy(require, async () => {
        const want = require.checked;
        const r = await api('PUT', '/api/settings/security', { require_totp: want });
        if (!r.ok) { require.checked = !want; say(out, 'err', r.error); return; }
        say(out, 'ok', want ? 'Two-factor is now required: whoever has not set it up does so at their next sign-in.' : 'Two-factor is now optional.');
      }));
    }
  }

  // ---------------------------------------------------------------- my account
  function initSecurity() {
    const sec = $('[data-totp]');
    const start = $('[data-totp-start]', sec);
    if (start) {
      const out = $('.actions [data-result]', sec);
      const setup = $('[data-totp-setup]', sec);
      start.addEventListener('click', () => busy(start, async () => {
        const r = await api('POST', '/api/me/totp');
        if (!r.ok) { say(out, 'err', r.error); return; }
        say(out, '', '');
        // Our own API's SVG, parsed as SVG (never as HTML) and adopted as a node.
        const qr = $('[data-totp-qr]', setup);
        const doc = new DOMParser().parseFromString(r.data.qr_svg, 'image/svg+xml');
        const svg = doc.documentElement;
        if (svg && svg.nodeName.toLowerCase() === 'svg' && !doc.querySelector('parsererror, script, foreignObject')) {
          svg.setAttribute('role', 'img');
          svg.setAttribute('aria-label', 'QR code for your authenticator app');
          qr.replaceChildren(document.importNode(svg, true));
        } else {
          qr.replaceChildren(h('p', { class: 'muted small' }, 'The QR code could not be shown: type the key below.'));
        }
        $('[data-totp-secret]', setup).textContent = r.data.secret;
        setup.hidden = false;
        start.hidden = true;
        $('input[name=code]', setup).focus();
      }));
      const confirmForm = $('[data-totp-confirm]', sec);
      confirmForm.addEventListener('submit', (e) => {
        e.preventDefault();
        const res = $('[data-result]', confirmForm);
        busy(e.submitter, async () => {
          const r = await api('POST', '/api/me/totp/confirm', { code: confirmForm.elements.code.value.trim() });
          if (!r.ok) { say(res, 'err', r.error); return; }
          setup.hidden = true;
          const box = $('[data-recovery]', sec);
          $('[data-recovery-codes]', box).textContent = (r.data.recovery_codes || []).join('\n');
          box.hidden = false;
          const state = $('[data-totp-state]', sec);
          state.textContent = 'on';
          state.className = 'chip status-active';
          const banner = $('[data-test="enrol-banner"]');
          if (banner) banner.remove();
        });
      });
    }
    const off = $('[data-totp-off]', sec);
    if (off) {
      off.addEventListener('submit', (e) => {
        e.preventDefault();
        const res = $('[data-result]', off);
        busy(e.submitter, async () => {
          const r = await api('DELETE', '/api/me/totp', { current_password: off.elements.current_password.value });
          if (!r.ok) { say(res, 'err', r.error); return; }
          say(res, 'ok', 'Two-factor is off.');
          reloadSoon();
        });
      });
    }
    const pw = $('[data-password-form]');
    if (pw) {
      pw.addEventListener('submit', (e) => {
        e.preventDefault();
        const res = $('[data-result]', pw);
        busy(e.submitter, async () => {
          const next = pw.elements.new_password.value;
          if (next !== pw.elements.new_password_again.value) { say(res, 'err', 'The two new passwords are not the same.'); return; }
          const r = await api('PUT', '/api/me/password', { current_password: pw.elements.current_password.value, new_password: next });
          if (!r.ok) { say(res, 'err', r.error); return; }
          // Every session of ours ended with the change, this one too.
          say(res, 'ok', 'Password changed. Sign in again with the new one…');
          setTimeout(() => { location.href = '/login'; }, 900);
        });
      });
    }
    const prefs = $('[data-alert-prefs-form]');
    if (prefs) {
      const res = $('[data-result]', prefs);
      api('GET', '/api/me/alerts').then((r) => {
        if (!r.ok || !r.data) return;
        prefs.elements.email.checked = r.data.channels.includes('email');
        prefs.elements.sms.checked = r.data.channels.includes('sms');
        prefs.elements.phone.value = r.data.phone || '';
        prefs.elements.mute_start.value = r.data.mute_start || '';
        prefs.elements.mute_end.value = r.data.mute_end || '';
      });
      prefs.addEventListener('submit', (e) => {
        e.preventDefault();
        busy(e.submitter, async () => {
          const channels = ['dashboard'];
          if (prefs.elements.email.checked) channels.push('email');
          if (prefs.elements.sms.checked) channels.push('sms');
          const body = { channels, phone: prefs.elements.phone.value.trim() || null,
            mute_start: prefs.elements.mute_start.value || null, mute_end: prefs.elements.mute_end.value || null };
          const r = await api('PUT', '/api/me/alerts', body);
          if (!r.ok) { say(res, 'err', r.error); return; }
          prefs.elements.phone.value = r.data.phone || '';
          say(res, 'ok', 'Saved.');
        });
      });
    }
  }

  // ---------------------------------------------------------------- conversations
  function initConversations(root) {
    const list = $('[data-session-list]', root);
    const filter = $('[data-session-filter]', root);
    const pane = $('[data-pane]', root);
    const empty = $('[data-empty]', root);
    const transcript = $('[data-transcript]', root);
    const typing = $('[data-typing]', root);
    const takeBtn = $('[data-takeover]', root);
    const mode = $('[data-mode]', root);
    const result = $('[data-result]', root);
    const replyForm = $('[data-chat-reply]', root);
    let current = null; // {id, takeover, closed, lastId}
    let es = null;
    let typingTimer = 0;
    const seen = new Set();

    const label = (s) => s.lead_name || s.lead_email || s.lead_phone || 'Website visitor';

    async function loadList() {
      const q = filter.value ? '?limit=100&status=' + filter.value : '?limit=100';
      const r = await api('GET', '/api/chat/sessions' + q);
      if (!r.ok) { list.replaceChildren(h('li', { class: 'muted pad' }, r.error)); return; }
      const items = r.data.items || [];
      if (!items.length) { list.replaceChildren(h('li', { class: 'muted pad' }, 'No conversations yet. They appear here as soon as a visitor writes in the widget.')); return; }
      list.replaceChildren(...items.map((s) => {
        const last = s.last_message || {};
        const b = h('button', { type: 'button', 'data-session': s.session_id, 'aria-current': current && current.id === s.session_id ? 'true' : 'false' },
          h('div', { class: 's-top' },
            h('span', { class: 's-name' }, label(s)),
            h('span', { class: 'muted small' }, ago(s.last_message_at || s.started_at))),
          h('div', { class: 's-last' }, last.text ? (last.author === 'visitor' ? '' : (last.author === 'ai' ? 'AI: ' : 'You: ')) + last.text : 'No messages'),
          h('div', { class: 's-meta' },
            s.score_band ? h('span', { class: 'badge badge-' + s.score_band.toLowerCase() }, s.score_band) : null,
            h('span', { class: 'chip' }, s.status === 'open' ? 'open' : 'closed'),
            s.human_takeover ? h('span', { class: 'chip chip-chat' }, 'you') : null,
            s.site_name ? h('span', { class: 'muted small' }, s.site_name) : null));
        b.addEventListener('click', () => select(s.session_id));
        return h('li', {}, b);
      }));
    }

    function addMessage(m) {
      if (m.id != null) {
        if (seen.has(m.id)) return;
        seen.add(m.id);
        if (current) current.lastId = Math.max(current.lastId || 0, m.id);
      }
      const who = m.author === 'visitor' ? 'Visitor' : (m.author === 'ai' ? 'AI' : 'You');
      transcript.append(h('div', { class: 'msg msg-' + m.author, 'data-author': m.author, 'data-id': m.id },
        m.text, h('div', { class: 'msg-meta' }, who + ' · ' + clock(m.timestamp))));
      transcript.scrollTop = transcript.scrollHeight;
    }

    function showMode() {
      if (!current) return;
      mode.textContent = current.closed ? 'Closed' : (current.takeover ? 'You are answering' : 'AI is answering');
      takeBtn.textContent = current.takeover ? 'Hand back to AI' : 'Take over';
      takeBtn.hidden = current.closed;
      replyForm.hidden = current.closed;
    }

    function stream() {
      if (es) { es.close(); es = null; }
      if (!current || current.closed || typeof EventSource === 'undefined') return;
      const id = current.id;
      es = new EventSource('/api/chat/sessions/' + encodeURIComponent(id) + '/stream?after=' + (current.lastId || 0));
      es.addEventListener('message', (e) => {
        if (!current || current.id !== id) return;
        try { addMessage(JSON.parse(e.data)); } catch (err) { /* ignore malformed */ }
        typing.hidden = true;
        loadList();
      });
      es.addEventListener('typing', (e) => {
        let d = {};
        try { d = JSON.parse(e.data); } catch (err) { return; }
        if (d.author !== 'visitor') return;
        typing.hidden = !d.typing;
        clearTimeout(typingTimer);
        if (d.typing) typingTimer = setTimeout(() => { typing.hidden = true; }, 8000);
      });
      es.addEventListener('closed', () => {
        if (!current || current.id !== id) return;
        current.closed = true;
        transcript.append(h('div', { class: 'msg-system' }, 'The conversation was closed.'));
        showMode();
        es.close();
        loadList();
      });
    }

    async function select(id) {
      const r = await api('GET', '/api/chat/sessions/' + encodeURIComponent(id));
      if (!r.ok) { say(result, 'err', r.error); return; }
      const s = r.data;
      current = { id: s.session_id, takeover: s.human_takeover, closed: s.status !== 'open', lastId: 0 };
      seen.clear();
      empty.hidden = true;
      pane.hidden = false;
      say(result, '', '');
      $('[data-title]', root).textContent = label(s);
      const sub = [s.lead_email, s.lead_phone, s.site_name, s.page_url].filter(Boolean).join(' · ');
      $('[data-sub]', root).textContent = sub + (s.engagement_score != null ? ' · chat score ' + s.engagement_score : '');
      const link = $('[data-lead-link]', root);
      link.hidden = !s.lead_id;
      if (s.lead_id) link.setAttribute('href', '/leads/' + encodeURIComponent(s.lead_id));
      transcript.replaceChildren();
      for (const m of s.messages || []) addMessage(m);
      showMode();
      for (const b of $$('[data-session]', list)) b.setAttribute('aria-current', b.getAttribute('data-session') === id ? 'true' : 'false');
      history.replaceState(null, '', '/conversations?session=' + encodeURIComponent(id));
      stream();
    }

    takeBtn.addEventListener('click', () => busy(takeBtn, async () => {
      if (!current) return;
      const r = await api('POST', '/api/chat/sessions/' + encodeURIComponent(current.id) + '/takeover', { takeover: !current.takeover });
      if (!r.ok) { say(result, 'err', r.error); return; }
      current.takeover = r.data.human_takeover;
      showMode();
      loadList();
    }));

    replyForm.addEventListener('submit', (e) => {
      e.preventDefault();
      if (!current) return;
      const text = replyForm.elements.text.value.trim();
      if (!text) return;
      busy(e.submitter, async () => {
        const r = await api('POST', '/api/chat/sessions/' + encodeURIComponent(current.id) + '/reply', { text });
        if (!r.ok) { say(result, 'err', r.error); return; }
        say(result, '', '');
        replyForm.elements.text.value = '';
        current.takeover = true;
        showMode();
        addMessage(r.data);
      });
    });
    replyForm.elements.text.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); replyForm.requestSubmit(); }
    });
    filter.addEventListener('change', loadList);
    loadList();
    setInterval(loadList, 20000);
    const initial = root.getAttribute('data-selected');
    if (initial) select(initial);
  }

  // ---------------------------------------------------------------- start
  function init() {
    initCommon();
    const health = $('[data-health]');
    if (health) initHealth(health);
    const keys = $('[data-keys]');
    if (keys) initKeys(keys);
    const quarantine = $('[data-quarantine]');
    if (quarantine) initQuarantine(quarantine);
    const outbox = $('[data-outbox]');
    if (outbox) initOutbox(outbox);
    const email = $('[data-email]');
    if (email) initEmail(email);
    const sms = $('[data-sms]');
    if (sms) initSms(sms);
    const chat = $('[data-chat]');
    if (chat) initChat(chat);
    const ai = $('#ai');
    if (ai && $('[data-ai-preview]', ai)) initAi(ai);
    const team = $('[data-team]');
    if (team) initTeam();
    const security = $('[data-totp]');
    if (security) initSecurity();
    if (document.body.getAttribute('data-page') === 'leads') initLead();
    const convo = $('[data-conversations]');
    if (convo) initConversations(convo);
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
