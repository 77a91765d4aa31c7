/* Leadline website chat widget.
 * Embed: <script src="https://LEADLINE_HOST/widget.js" data-site="SITE_KEY" async></script>
 * Plain ES2018, no dependencies, no third-party requests. Renders inside an open
 * Shadow DOM; all user/server text goes in through textContent only. */
(() => {
  'use strict';
  if (window.__leadlineWidget) return;
  window.__leadlineWidget = true;

  const VERSION = '1.0.0';
  let script = document.currentScript;
  if (!script || !script.hasAttribute('data-site')) {
    script = document.querySelector('script[data-site][src*="widget.js"]') || script;
  }
  if (!script || !script.src) return;
  let base;
  try { base = new URL(script.src, location.href).origin; } catch (e) { return; }
  const siteKey = script.getAttribute('data-site') || '';
  const KEY = 'leadline:' + siteKey;

  const OFFLINE = "Can't reach the chat right now";
  const RATE = "You're sending messages too fast — please wait a moment.";
  const CLOSED = 'This conversation was closed. Send a message to start a new one.';
  const DEFAULTS = {
    company_name: 'us', color_theme: '#1f6feb', position: 'bottom-right',
    greeting_message: 'Hi! How can we help?', collect_email: false, collect_phone: false,
    offline_message: null,
  };
  const GONE = [401, 404, 410];

  // ---- storage (may throw in private modes / sandboxed frames) ----
  const load = () => { try { return JSON.parse(localStorage.getItem(KEY)) || {}; } catch (e) { return {}; } };
  const save = () => { try { localStorage.setItem(KEY, JSON.stringify(S)); } catch (e) { /* ignore */ } };
  function visitorId() {
    let id = null;
    try { id = localStorage.getItem('leadline:visitor'); } catch (e) { /* ignore */ }
    if (!id) {
      id = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => (b + 256).toString(16).slice(1)).join('');
      try { localStorage.setItem('leadline:visitor', id); } catch (e) { /* ignore */ }
    }
    return id;
  }
  // First touch: the landing page and referrer of the visit that brought the visitor (kept
  // 30 days), so a chat started pages later is still credited to the ad or campaign.
  function landing() {
    const KEY_L = 'leadline:landing';
    let l = null;
    try { l = JSON.parse(localStorage.getItem(KEY_L)); } catch (e) { /* ignore */ }
    const fresh = /[?&](utm_[a-z]+|gclid|gbraid|wbraid|fbclid|msclkid)=/.test(location.search);
    const external = document.referrer && !document.referrer.startsWith(location.origin);
    if (!l || Date.now() - l.at > 30 * 864e5 || fresh) {
      if (!l || fresh || external) {
        l = { url: location.href, referrer: document.referrer, at: Date.now() };
        try { localStorage.setItem(KEY_L, JSON.stringify(l)); } catch (e) { /* ignore */ }
      }
    }
    return l || { url: location.href, referrer: document.referrer };
  }
  const firstTouch = landing();

  // ---- state ----
  let S = load(); // {token, session_id, contact, seen}
  let settings = null, loaded = false, initing = false, dead = false;
  let host = null;
  const el = {};
  let isOpen = false, everOpened = false, wantOpen = false, closedConv = false;
  let es = null, backoff = 1000, rtimer = 0;
  let waiting = 0, remoteTyping = false, typingTimer = 0, typingOn = false, typingAt = 0;
  let unread = 0, creating = null, status = null, warned = false;
  const byId = new Map();

  // ---- HTTP ----
  async function api(path, body) {
    let r;
    try {
      r = await fetch(base + path, body
        ? { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body), credentials: 'omit' }
        : { credentials: 'omit' });
    } catch (e) {
      setStatus(OFFLINE, 'offline');
      return { status: 0, data: {} };
    }
    let data = null;
    try { data = await r.json(); } catch (e) { /* empty or non-JSON body */ }
    if (r.status >= 500) setStatus(OFFLINE, 'offline'); else clearStatus('offline');
    return { status: r.status, data: data || {}, retry: r.headers.get('Retry-After') };
  }
  const errText = (d) => (d && d.error && d.error.message) || '';

  function destroy() {
    dead = true;
    stopStream();
    if (host) host.remove();
    if (!warned) {
      warned = true;
      console.warn('Leadline chat: this page is not allowed to use site key "' + siteKey + '"; the widget is disabled.');
    }
  }

  // ---- settings / session ----
  async function init() {
    if (initing || dead) return;
    initing = true;
    try {
      if (S.token) {
        const res = await resume();
        if (res !== 'gone') { if (!host && !dead) apply(null); return; }
      }
      const r = await api('/api/chat/site?site_key=' + encodeURIComponent(siteKey));
      if (r.status === 200 && r.data.settings) { loaded = true; apply(r.data.settings); }
      else if (r.status >= 400 && r.status < 500 && r.status !== 429) destroy();
      else if (!dead) apply(null); // server unreachable: defaults + "can't reach" line
    } finally { initing = false; }
  }

  async function resume() {
    const tok = S.token;
    if (!tok) return 'gone';
    const r = await api('/api/chat/session/resume', { session_token: tok });
    if (tok !== S.token || dead) return 'stale';
    if (r.status === 200) {
      loaded = true;
      apply(r.data.settings);
      if (r.data.contact_captured && !S.contact) { S.contact = true; save(); showForm(); }
      (r.data.messages || []).forEach(addMsg);
      if (r.data.status === 'closed') markClosed(); else { closedConv = false; connect(); }
      return 'ok';
    }
    if (GONE.includes(r.status)) { // expired/unknown: next send starts a new conversation
      S = {};
      save();
      if (byId.size) markClosed(); else { closedConv = false; stopStream(); }
      return 'gone';
    }
    if (r.status === 403) { destroy(); return 'dead'; }
    return 'fail';
  }

  // Start a new conversation: forget the old session and its messages (not pending ones).
  function resetConversation() {
    closedConv = false;
    stopStream();
    S = {};
    byId.forEach((n) => n.remove());
    byId.clear();
    if (el.log) el.log.querySelectorAll('.failed,.error').forEach((n) => n.remove());
    clearStatus('closed');
    showForm();
  }

  function ensureSession() {
    if (S.token && !closedConv) return Promise.resolve(true);
    if (closedConv) resetConversation();
    if (!creating) {
      creating = (async () => {
        const r = await api('/api/chat/session/new', {
          site_key: siteKey, page_url: location.href, referrer: firstTouch.referrer || document.referrer,
          landing_url: firstTouch.url, visitor_id: visitorId(),
        });
        creating = null;
        if (r.status >= 200 && r.status < 300 && r.data.session_token) {
          S.token = r.data.session_token;
          S.session_id = r.data.session_id;
          save();
          if (r.data.settings) { loaded = true; apply(r.data.settings); }
          connect();
          return true;
        }
        if (r.status === 403) destroy();
        else if (r.status) setStatus(errText(r.data) || OFFLINE, 'offline');
        return false;
      })();
    }
    return creating;
  }

  // POST with the session token; a closed/unknown session is replaced once by a new one.
  async function call(path, body, again) {
    if (!(await ensureSession())) return { status: -1, data: {} };
    const tok = S.token;
    const r = await api(path, Object.assign({ session_token: tok }, body));
    if (!again && (r.status === 409 || GONE.includes(r.status))) {
      if (tok === S.token) closedConv = true;
      return call(path, body, true);
    }
    return r;
  }

  function markClosed() {
    closedConv = true;
    stopStream();
    remoteTyping = false;
    updTyping();
    setStatus(CLOSED, 'closed');
  }

  // ---- live updates (SSE) ----
  function connect() {
    if (es || dead || !everOpened || !S.token || closedConv || typeof EventSource === 'undefined') return;
    const src = new EventSource(base + '/api/chat/stream?session_token=' + encodeURIComponent(S.token));
    es = src;
    let errTimer = 0, first = true;
    const parse = (e) => { try { return JSON.parse(e.data); } catch (x) { return null; } };
    src.addEventListener('open', () => {
      backoff = 1000;
      clearTimeout(errTimer);
      clearStatus('offline');
      if (first) { first = false; resume(); } // fetch what was sent before the stream existed
    });
    src.addEventListener('message', (e) => { if (src === es) addMsg(parse(e)); });
    src.addEventListener('typing', (e) => {
      const t = parse(e);
      if (src === es && t && t.author !== 'visitor') setRemoteTyping(!!t.typing);
    });
    src.addEventListener('closed', () => { if (src === es) markClosed(); });
    src.onerror = () => {
      if (src !== es) return;
      if (src.readyState === 2) { // CLOSED: the browser gave up; we retry with back-off
        stopStream();
        setStatus(OFFLINE, 'offline');
        scheduleReconnect();
      } else { // CONNECTING: the browser retries; complain only if it takes a while
        clearTimeout(errTimer);
        errTimer = setTimeout(() => { if (src === es && src.readyState !== 1) setStatus(OFFLINE, 'offline'); }, 4000);
      }
    };
  }
  function stopStream() {
    if (es) { es.close(); es = null; }
  }
  function scheduleReconnect() {
    if (rtimer || dead) return;
    rtimer = setTimeout(async () => {
      rtimer = 0;
      if (!S.token || closedConv) return;
      const res = await resume(); // fetch anything missed; connects again when open
      if (res === 'fail') scheduleReconnect();
    }, backoff);
    backoff = Math.min(backoff * 2, 30000);
  }
  addEventListener('online', () => {
    if (S.token && everOpened && !closedConv && !dead) { stopStream(); scheduleReconnect(); }
  });

  // Another tab created (or replaced) the session: adopt it.
  addEventListener('storage', (e) => {
    if (e.key !== KEY || dead) return;
    const v = load();
    if (v.token && v.token !== S.token) {
      resetConversation();
      S = v;
      resume();
    } else if (v.token && v.token === S.token) {
      if (v.contact && !S.contact) { S.contact = v.contact; showForm(); }
      if (v.seen > (S.seen || 0)) {
        S.seen = v.seen;
        if (!es) resume(); // no stream in this tab: catch up with what the other tab saw
      }
    }
  });

  // ---- messages ----
  function h(tag, cls, text) {
    const n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text != null) n.textContent = String(text);
    return n;
  }
  const NS = 'http://www.w3.org/2000/svg';
  function icon(d, cls) {
    const s = document.createElementNS(NS, 'svg');
    s.setAttribute('viewBox', '0 0 24 24');
    s.setAttribute('aria-hidden', 'true');
    s.setAttribute('focusable', 'false');
    if (cls) s.setAttribute('class', cls);
    const p = document.createElementNS(NS, 'path');
    p.setAttribute('d', d);
    s.appendChild(p);
    return s;
  }

  function msgNode(author, text) {
    const a = author === 'visitor' || author === 'ai' ? author : 'agent';
    const n = h('div', 'msg ' + a);
    n.setAttribute('data-ll', 'msg');
    n.setAttribute('data-author', author);
    if (a !== 'visitor') n.appendChild(h('div', 'who', a === 'ai' ? 'AI assistant' : 'Team'));
    n.appendChild(h('div', 'txt', text));
    n._text = text;
    return n;
  }
  function setId(n, m) {
    const id = String(m.id);
    n.setAttribute('data-id', id);
    byId.set(id, n);
    const d = new Date(m.timestamp);
    if (m.timestamp && !isNaN(d)) n.title = d.toLocaleString();
  }
  // state: '' | 'pending' | 'failed' (retryable) | 'error' (rejected by the server)
  function setState(n, st, note) {
    n.classList.remove('pending', 'failed', 'error');
    if (st) { n.classList.add(st); n.setAttribute('data-state', st); } else n.removeAttribute('data-state');
    const old = n.querySelector('.note');
    if (old) old.remove();
    if (!note) return;
    const b = h(st === 'failed' ? 'button' : 'div', 'note', note);
    if (st === 'failed') {
      b.type = 'button';
      b.addEventListener('click', () => send(n._text, n));
    }
    n.appendChild(b);
  }

  function addMsg(m) {
    if (!m || m.id == null || !el.log || dead) return;
    const id = String(m.id);
    if (byId.has(id)) return;
    if (m.author === 'visitor') { // our own message echoed by the stream before the POST answered
      const p = Array.from(el.log.querySelectorAll('.pending')).find((x) => x._text === m.text);
      if (p) { confirmMsg(p, m); return; }
    }
    const n = msgNode(m.author, m.text == null ? '' : m.text);
    setId(n, m);
    place(n);
    if (m.author !== 'visitor') {
      remoteTyping = false;
      updTyping();
      if (!isOpen && +id > (S.seen || 0)) { unread++; badge(); }
    }
    if (isOpen) markSeen();
    scroll();
  }
  // Keep id order: before the first newer message or the first still-pending one.
  function place(n) {
    const id = +n.getAttribute('data-id');
    let before = null;
    for (const c of el.log.children) {
      if (c !== n && (c.classList.contains('pending') || +c.getAttribute('data-id') > id)) { before = c; break; }
    }
    if (n.nextSibling !== before || n.parentNode !== el.log) el.log.insertBefore(n, before);
  }
  function confirmMsg(n, m) {
    const ex = byId.get(String(m.id));
    if (ex && ex !== n) { n.remove(); return; }
    setState(n, '');
    setId(n, m);
    place(n);
  }
  function markSeen() {
    let max = S.seen || 0;
    byId.forEach((n, k) => { if (+k > max) max = +k; });
    if (S.token && max !== (S.seen || 0)) { S.seen = max; save(); }
  }

  async function send(text, n) {
    if (dead) return;
    if (!n) {
      if (closedConv) resetConversation();
      n = msgNode('visitor', text);
      el.log.appendChild(n);
    }
    setState(n, 'pending');
    scroll();
    typing(false);
    waiting++;
    updTyping();
    const r = await call('/api/chat/message', { message: text });
    waiting--;
    updTyping();
    if (dead) return;
    if (r.status === 200 && r.data.message) {
      confirmMsg(n, r.data.message);
      if (r.data.reply) addMsg(r.data.reply);
    } else if (r.status === 422) {
      setState(n, 'error', errText(r.data) || 'This message could not be sent.');
    } else {
      if (r.status === 429) {
        setStatus(RATE, 'rate');
        setTimeout(() => clearStatus('rate'), (parseInt(r.retry, 10) || 5) * 1000);
      }
      setState(n, 'failed', 'Not sent — tap to retry');
    }
    scroll();
  }

  function typing(on) {
    if (!S.token || closedConv) return;
    if (on) {
      if (Date.now() - typingAt < 3000) return;
      typingAt = Date.now();
      typingOn = true;
    } else {
      if (!typingOn) return;
      typingOn = false;
      typingAt = 0;
    }
    api('/api/chat/typing', { session_token: S.token, typing: on });
  }
  function setRemoteTyping(on) {
    remoteTyping = on;
    clearTimeout(typingTimer);
    if (on) typingTimer = setTimeout(() => { remoteTyping = false; updTyping(); }, 8000);
    updTyping();
  }
  function updTyping() {
    if (!el.typing) return;
    const show = waiting > 0 || remoteTyping;
    if (el.typing.hidden === !show) return;
    el.typing.hidden = !show;
    if (show) scroll();
  }

  // ---- status line / badge ----
  function setStatus(text, kind) {
    if (status && status.kind === 'closed' && kind === 'offline') return; // closed wins
    status = { text, kind };
    if (el.status) { el.status.textContent = text; el.status.hidden = false; }
  }
  function clearStatus(kind) {
    if (!status || status.kind !== kind) return;
    status = null;
    if (el.status) { el.status.textContent = ''; el.status.hidden = true; }
  }
  function badge() {
    if (!el.badge) return;
    el.badge.textContent = unread > 9 ? '9+' : String(unread);
    el.badge.hidden = !unread;
  }
  function scroll() {
    if (el.body) el.body.scrollTop = el.body.scrollHeight;
  }

  // ---- contact form ----
  function showForm() {
    if (!el.log) return;
    const s = settings || {};
    const need = (s.collect_email || s.collect_phone) && !S.contact;
    if (!need) { if (el.form) el.form.hidden = true; return; }
    const key = !!s.collect_email + ',' + !!s.collect_phone;
    if (!el.form || el.form._key !== key) {
      if (el.form) el.form.remove();
      el.form = buildForm(s);
      el.form._key = key;
      el.log.insertBefore(el.form, el.greet.nextSibling);
    }
    el.form.hidden = false;
  }
  function buildForm(s) {
    const f = h('form', 'contact');
    f.setAttribute('data-ll', 'contact-form');
    f.noValidate = true;
    f.appendChild(h('p', 'lead', 'Leave your details so we can get back to you:'));
    const fields = [['name', 'Name', 'text', 'name']];
    if (s.collect_email) fields.push(['email', 'Email', 'email', 'email']);
    if (s.collect_phone) fields.push(['phone', 'Phone', 'tel', 'tel']);
    const inputs = {};
    for (const [k, label, type, ac] of fields) {
      const l = h('label', null, label);
      const i = h('input');
      i.type = type;
      i.name = k;
      i.autocomplete = ac;
      i.maxLength = 200;
      l.appendChild(i);
      f.appendChild(l);
      inputs[k] = i;
    }
    const err = h('div', 'err');
    err.setAttribute('role', 'alert');
    err.setAttribute('data-ll', 'contact-error');
    const row = h('div', 'row');
    const saveBtn = h('button', 'btn', 'Save');
    saveBtn.type = 'submit';
    const skip = h('button', 'link', 'Skip');
    skip.type = 'button';
    row.append(saveBtn, skip);
    f.append(err, row);
    const done = () => { S.contact = true; save(); f.hidden = true; };
    skip.addEventListener('click', () => { done(); el.input.focus(); });
    f.addEventListener('submit', async (e) => {
      e.preventDefault();
      const body = {};
      for (const k in inputs) { const v = inputs[k].value.trim(); if (v) body[k] = v; }
      if (!Object.keys(body).length) { err.textContent = 'Please fill in your details, or skip.'; return; }
      err.textContent = '';
      saveBtn.disabled = true;
      const r = await call('/api/chat/contact', body);
      saveBtn.disabled = false;
      if (r.status === 200) { done(); el.input.focus(); }
      else err.textContent = errText(r.data) || OFFLINE;
    });
    return f;
  }

  // ---- UI ----
  const STYLE = `
:host{all:initial}
.ll{all:initial;display:block;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1b1f24;-webkit-font-smoothing:antialiased;--c:#1f6feb;--t:#fff}
.ll *{box-sizing:border-box}
[hidden]{display:none!important}
button,input,textarea{font:inherit;color:inherit;margin:0;letter-spacing:normal;text-transform:none}
button{cursor:pointer}
:focus-visible{outline:2px solid var(--c);outline-offset:2px}
svg{fill:currentColor;display:block}
.launcher{position:fixed;bottom:20px;right:20px;width:58px;height:58px;border:0;border-radius:50%;padding:0;background:var(--c);color:var(--t);box-shadow:0 4px 16px rgba(0,0,0,.25);display:flex;align-items:center;justify-content:center;transition:transform .15s}
.launcher:hover{transform:scale(1.06)}
.launcher:focus-visible{outline-offset:3px}
.launcher svg{width:28px;height:28px}
.launcher .i-x,.launcher[aria-expanded=true] .i-chat{display:none}
.launcher[aria-expanded=true] .i-x{display:block}
.badge{position:absolute;top:-3px;right:-3px;min-width:21px;height:21px;padding:0 6px;border-radius:11px;background:#e5484d;color:#fff;font-size:12px;font-weight:700;line-height:21px;text-align:center;border:2px solid #fff}
.left .launcher{right:auto;left:20px}
.left .badge{right:auto;left:-3px}
.panel{position:fixed;bottom:90px;right:20px;width:370px;height:580px;max-height:calc(100vh - 110px);background:#fff;border-radius:14px;box-shadow:0 12px 40px rgba(0,0,0,.28);display:flex;flex-direction:column;overflow:hidden}
.left .panel{right:auto;left:20px}
.head{display:flex;align-items:center;gap:8px;padding:14px 12px 14px 18px;background:var(--c);color:var(--t)}
.head .name{flex:1;font-size:16px;font-weight:600;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.head button{border:0;background:transparent;color:inherit;width:34px;height:34px;border-radius:8px;padding:5px}
.head button:hover{background:rgba(127,127,127,.25)}
.head :focus-visible{outline-color:currentColor}
.body{flex:1;overflow-y:auto;background:#f5f6f8;padding:14px 12px}
.log{display:flex;flex-direction:column;gap:10px}
.msg{max-width:85%;display:flex;flex-direction:column;align-items:flex-start}
.msg.visitor{align-self:flex-end;align-items:flex-end}
.who{font-size:11px;color:#6a7380;margin:0 4px 2px}
.txt{padding:8px 12px;border-radius:14px;white-space:pre-wrap;overflow-wrap:anywhere;word-break:break-word}
.agent .txt{background:#fff;border:1px solid #e1e4e8;border-bottom-left-radius:4px}
.ai .txt{background:#eef0f7;border:1px dashed #c9cfdd;border-bottom-left-radius:4px}
.visitor .txt{background:var(--c);color:var(--t);border-bottom-right-radius:4px}
.pending .txt{opacity:.6}
.failed .txt,.error .txt{opacity:.55}
.note{font-size:12px;color:#c62828;margin:3px 4px 0;padding:0;border:0;background:none;text-align:right}
button.note{text-decoration:underline}
.sys{font-size:12px;color:#6a7380;text-align:center;padding:0 8px}
.contact{background:#fff;border:1px solid #e1e4e8;border-radius:12px;padding:10px 12px;display:flex;flex-direction:column;gap:8px;font-size:13px}
.contact p{margin:0}
.contact label{display:flex;flex-direction:column;gap:2px;color:#4a525c}
.contact input{width:100%;border:1px solid #cfd4da;border-radius:8px;padding:7px 9px;background:#fff;color:#1b1f24}
.contact .err{color:#c62828}
.contact .err:empty{display:none}
.row{display:flex;align-items:center;gap:14px}
.btn{border:0;border-radius:8px;padding:7px 16px;background:var(--c);color:var(--t);font-weight:600}
.btn:disabled{opacity:.6}
.link{border:0;background:none;padding:0;color:#4a525c;text-decoration:underline}
.typing{display:flex;gap:4px;padding:10px 12px;margin-top:10px;width:max-content;background:#fff;border:1px solid #e1e4e8;border-radius:14px;border-bottom-left-radius:4px}
.typing span{width:7px;height:7px;border-radius:50%;background:#9aa3ae;animation:ll-b 1.2s infinite ease-in-out}
.typing span:nth-child(2){animation-delay:.15s}.typing span:nth-child(3){animation-delay:.3s}
@keyframes ll-b{0%,60%,100%{transform:none;opacity:.5}30%{transform:translateY(-4px);opacity:1}}
.status{font-size:12px;color:#5c4400;background:#fff6dc;padding:6px 14px;border-top:1px solid #f0e2b0}
.comp{display:flex;align-items:flex-end;gap:8px;padding:10px;border-top:1px solid #e5e7eb;background:#fff}
.comp textarea{flex:1;resize:none;border:1px solid #cfd4da;border-radius:10px;padding:8px 10px;min-height:40px;max-height:120px;line-height:1.4;background:#fff;color:#1b1f24;outline:0}
.comp textarea:focus{border-color:var(--c);box-shadow:0 0 0 1px var(--c)}
.send{flex:none;width:40px;height:40px;border:0;border-radius:50%;padding:10px;background:var(--c);color:var(--t)}
@media (max-width:479.98px){.panel,.left .panel{top:0;left:0;right:0;bottom:0;width:auto;height:auto;max-height:none;border-radius:0}}
@media (prefers-reduced-motion:reduce){.typing span{animation:none}.launcher{transition:none}}
`;

  function validColor(c) {
    return typeof c === 'string' && window.CSS && CSS.supports('color', c) ? c : DEFAULTS.color_theme;
  }
  // Dark text on light theme colors, white otherwise.
  function textOn(c) {
    const m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(c);
    if (!m) return '#fff';
    const x = m[1].length === 3 ? m[1].replace(/./g, '$&$&') : m[1];
    const n = parseInt(x, 16);
    return 0.299 * (n >> 16) + 0.587 * ((n >> 8) & 255) + 0.114 * (n & 255) > 165 ? '#1b1f24' : '#fff';
  }

  function build() {
    host = document.createElement('leadline-chat');
    host.setAttribute('data-leadline-widget', '');
    const hs = host.style;
    hs.setProperty('position', 'fixed', 'important');
    hs.setProperty('z-index', '2147483000', 'important');
    hs.setProperty('top', '0');
    hs.setProperty('left', '0');
    hs.setProperty('width', '0');
    hs.setProperty('height', '0');
    hs.setProperty('overflow', 'visible');
    const root = host.attachShadow({ mode: 'open' });
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(STYLE);
      root.adoptedStyleSheets = [sheet]; // not subject to the page's style-src CSP
    } catch (e) {
      root.appendChild(h('style', null, STYLE));
    }
    const w = el.wrap = h('div', 'll');

    const l = el.launcher = h('button', 'launcher');
    l.type = 'button';
    l.setAttribute('data-ll', 'launcher');
    l.setAttribute('aria-label', 'Open chat');
    l.setAttribute('aria-expanded', 'false');
    l.setAttribute('aria-controls', 'll-panel');
    l.append(
      icon('M20 2H4a2 2 0 0 0-2 2v18l4-4h14a2 2 0 0 0 2-2V4a2 2 0 0 0-2-2zM7 9h10v2H7zm0-3h10v2H7zm0 6h7v2H7z', 'i-chat'),
      icon('M19 6.4 17.6 5 12 10.6 6.4 5 5 6.4 10.6 12 5 17.6 6.4 19 12 13.4 17.6 19 19 17.6 13.4 12z', 'i-x'),
      el.badge = h('span', 'badge'));
    el.badge.setAttribute('data-ll', 'badge');
    el.badge.setAttribute('aria-hidden', 'true');
    el.badge.hidden = true;
    l.addEventListener('click', () => (isOpen ? close() : open()));

    const p = el.panel = h('div', 'panel');
    p.id = 'll-panel';
    p.hidden = true;
    p.setAttribute('data-ll', 'panel');
    p.setAttribute('role', 'dialog');
    p.addEventListener('keydown', (e) => { if (e.key === 'Escape') { e.stopPropagation(); close(); } });

    const head = h('div', 'head');
    el.name = h('div', 'name');
    const x = h('button');
    x.type = 'button';
    x.setAttribute('aria-label', 'Close chat');
    x.setAttribute('data-ll', 'close');
    x.appendChild(icon('M19 6.4 17.6 5 12 10.6 6.4 5 5 6.4 10.6 12 5 17.6 6.4 19 12 13.4 17.6 19 19 17.6 13.4 12z'));
    x.addEventListener('click', close);
    head.append(el.name, x);

    el.body = h('div', 'body');
    const log = el.log = h('div', 'log');
    log.setAttribute('data-ll', 'messages');
    log.setAttribute('role', 'log');
    log.setAttribute('aria-live', 'polite');
    // Greeting: first agent-styled message, not stored, without data-id.
    el.greet = msgNode('agent', '');
    el.greet.setAttribute('data-greeting', '');
    el.greet.querySelector('.who').remove();
    el.greetText = el.greet.querySelector('.txt');
    el.offline = h('div', 'sys');
    el.offline.setAttribute('data-ll', 'offline-message');
    log.append(el.greet, el.offline);
    const t = el.typing = h('div', 'typing');
    t.setAttribute('data-ll', 'typing');
    t.setAttribute('role', 'status');
    t.setAttribute('aria-label', 'Typing');
    t.hidden = true;
    t.append(h('span'), h('span'), h('span'));
    el.body.append(log, t);

    el.status = h('div', 'status');
    el.status.setAttribute('data-ll', 'status');
    el.status.setAttribute('role', 'status');
    el.status.hidden = !status;
    if (status) el.status.textContent = status.text;

    const comp = h('form', 'comp');
    const ta = el.input = h('textarea');
    ta.rows = 1;
    ta.maxLength = 2000;
    ta.placeholder = 'Type your message…';
    ta.setAttribute('aria-label', 'Type your message');
    ta.setAttribute('data-ll', 'input');
    const sendBtn = h('button', 'send');
    sendBtn.type = 'submit';
    sendBtn.setAttribute('aria-label', 'Send message');
    sendBtn.setAttribute('data-ll', 'send');
    sendBtn.appendChild(icon('M2 21 23 12 2 3v7l15 2-15 2z'));
    comp.append(ta, sendBtn);
    const grow = () => { ta.style.height = 'auto'; ta.style.height = Math.min(ta.scrollHeight + 2, 120) + 'px'; };
    const submit = () => {
      const text = ta.value.trim();
      if (!text) return;
      ta.value = '';
      grow();
      send(text);
    };
    comp.addEventListener('submit', (e) => { e.preventDefault(); submit(); ta.focus(); });
    ta.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(); }
    });
    ta.addEventListener('input', () => { grow(); typing(ta.value.trim() !== ''); });
    ta.addEventListener('blur', () => typing(false));

    p.append(head, el.body, el.status, comp);
    w.append(l, p);
    root.appendChild(w);
    document.body.appendChild(host);
  }

  function apply(s) {
    if (dead) return;
    const cur = settings || DEFAULTS;
    settings = {};
    for (const k in DEFAULTS) settings[k] = s && s[k] != null ? s[k] : cur[k];
    if (s && s.offline_message === null) settings.offline_message = null;
    if (!host) build();
    const c = validColor(settings.color_theme);
    el.wrap.style.setProperty('--c', c);
    el.wrap.style.setProperty('--t', textOn(c));
    el.wrap.classList.toggle('left', settings.position === 'bottom-left');
    const name = String(settings.company_name || DEFAULTS.company_name);
    el.name.textContent = name;
    el.panel.setAttribute('aria-label', 'Chat with ' + name);
    el.greetText.textContent = settings.greeting_message || '';
    el.greet.hidden = !settings.greeting_message;
    el.offline.textContent = settings.offline_message || '';
    el.offline.hidden = !settings.offline_message;
    showForm();
    if (wantOpen) { wantOpen = false; open(); }
  }

  function open() {
    if (dead) return;
    if (!el.panel) { wantOpen = true; return; }
    if (!isOpen) {
      isOpen = true;
      everOpened = true;
      el.panel.hidden = false;
      el.launcher.setAttribute('aria-expanded', 'true');
      unread = 0;
      badge();
      markSeen();
      if (!loaded) init(); // server was unreachable at page load
      connect();
      scroll();
    }
    el.input.focus();
  }
  function close() {
    if (!isOpen) return;
    isOpen = false;
    el.panel.hidden = true;
    el.launcher.setAttribute('aria-expanded', 'false');
    typing(false);
    el.launcher.focus();
  }

  window.LeadlineWidget = { open, close, version: VERSION };
  if (document.body) init();
  else document.addEventListener('DOMContentLoaded', init);
})();
