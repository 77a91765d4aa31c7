/* Leadline dashboard: the Webhooks page (subscriptions and the delivery log). Builds on
 * app.js's helpers (window.Leadline): JSON API with the session cookie and CSRF token,
 * text only, never HTML. */
(() => {
  'use strict';
  const L = window.Leadline;
  if (!L) return;
  const { $, $$, api, say, busy, reloadSoon } = L;
  const checked = (form) => $$('input[name=events]:checked', form).map((i) => i.value);

  function showSecret(secret) {
    const box = $('[data-secret]');
    $('[data-secret-value]', box).textContent = secret;
    box.hidden = false;
  }

  function init() {
    const create = $('[data-create]');
    if (!create) return;
    create.addEventListener('submit', (e) => {
      e.preventDefault();
      const out = $('[data-result]', create);
      busy(e.submitter, async () => {
        const r = await api('POST', '/api/webhooks/subscriptions', {
          url: create.elements.url.value, description: create.elements.description.value, events: checked(create),
        });
        if (!r.ok) { say(out, 'err', r.error); return; }
        showSecret(r.data.secret);
        say(out, 'ok', 'Added. Copy the secret above now: it is not shown again. Reload to see it listed.');
      });
    });
    for (const row of $$('tr[data-sub]')) {
      const id = row.getAttribute('data-sub');
      const out = $('[data-result]', row);
      const base = '/api/webhooks/subscriptions/' + id;
      $('[data-toggle]', row).addEventListener('click', (e) => busy(e.currentTarget, async () => {
        const on = e.currentTarget.getAttribute('data-enabled') !== 'true';
        const r = await api('PATCH', base, { enabled: on });
        if (!r.ok) { say(out, 'err', r.error); return; }
        say(out, 'ok', on ? 'Turned on.' : 'Turned off.');
        reloadSoon();
      }));
      $('[data-rotate]', row).addEventListener('click', (e) => busy(e.currentTarget, async () => {
        if (!window.confirm('Make a new signing secret? The current one keeps signing beside it for 24 hours.')) return;
        const r = await api('POST', base + '/rotate');
        if (!r.ok) { say(out, 'err', r.error); return; }
        showSecret(r.data.secret);
        say(out, 'ok', 'New secret above (shown once).');
      }));
      $('[data-delete]', row).addEventListener('click', (e) => busy(e.currentTarget, async () => {
        if (!window.confirm('Delete this subscription and its delivery log?')) return;
        const r = await api('DELETE', base);
        if (!r.ok) { say(out, 'err', r.error); return; }
        row.remove();
      }));
      const edit = $('[data-edit]', row);
      edit.addEventListener('submit', (e) => {
        e.preventDefault();
        busy(e.submitter, async () => {
          const r = await api('PATCH', base, {
            url: edit.elements.url.value, description: edit.elements.description.value || null, events: checked(edit),
          });
          if (!r.ok) { say(out, 'err', r.error); return; }
          say(out, 'ok', 'Saved.');
          reloadSoon();
        });
      });
    }
    for (const row of $$('tr[data-delivery]')) {
      const b = $('[data-replay]', row);
      if (!b) continue;
      b.addEventListener('click', (e) => busy(e.currentTarget, async () => {
        const r = await api('POST', '/api/webhooks/deliveries/' + row.getAttribute('data-delivery') + '/replay');
        const out = $('[data-result]', row);
        if (!r.ok) { say(out, 'err', r.error); return; }
        say(out, 'ok', 'Queued again (same webhook-id).');
      }));
    }
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
