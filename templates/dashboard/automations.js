/* Leadline dashboard: business hours, templates, sequences, a lead's follow-ups and the
 * reply boxes' "Use a template". Builds on app.js's helpers (window.Leadline); same
 * rules: JSON API with the session cookie and CSRF token, text only, never HTML. */
(() => {
  'use strict';
  const L = window.Leadline;
  if (!L) return;
  const { $, $$, api, h, say, busy, reloadSoon } = L;

  // ---------------------------------------------------------------- business hours
  function initHours(sec) {
    const form = $('[data-hours-form]', sec);
    const out = $('[data-result]', form);
    const list = $('[data-holidays]', sec);
    const addHoliday = (d) => {
      if (!d || $('[data-holiday="' + d + '"]', list)) return;
      const li = h('li', { 'data-holiday': d }, h('span', { class: 'chip' }, d), ' ',
        h('button', { type: 'button', class: 'btn btn-small btn-danger-ghost', 'data-holiday-remove': true, 'aria-label': 'Remove ' + d }, 'Remove'));
      list.append(li);
    };
    list.addEventListener('click', (e) => {
      const b = e.target.closest('[data-holiday-remove]');
      if (b) b.closest('li').remove();
    });
    const add = $('[data-holiday-add]', sec);
    if (add) add.addEventListener('click', () => { addHoliday($('[data-holiday-new]', sec).value); $('[data-holiday-new]', sec).value = ''; });
    const sync = () => {
      for (const row of $$('tr[data-day]', form)) {
        const open = $('[data-day-open]', row).checked;
        for (const i of $$('input[type=time]', row)) i.disabled = !open;
      }
    };
    for (const c of $$('[data-day-open]', form)) c.addEventListener('change', sync);
    if ($('button[type=submit]', form)) sync();
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      busy(e.submitter, async () => {
        const week = {};
        for (const row of $$('tr[data-day]', form)) {
          if (!$('[data-day-open]', row).checked) continue;
          week[row.getAttribute('data-day')] = [[$('[data-day-from]', row).value, $('[data-day-to]', row).value]];
        }
        const holidays = $$('[data-holiday]', list).map((li) => li.getAttribute('data-holiday'));
        const r = await api('PUT', '/api/settings/hours', { timezone: form.elements.timezone.value.trim(), hours: { week, holidays } });
        if (!r.ok) { say(out, 'err', r.error); return; }
        const st = $('[data-hours-status]');
        if (st) {
          st.textContent = r.data.open_now ? 'Open now'
            : (r.data.next_open ? 'Opens ' + new Date(r.data.next_open).toLocaleString([], { timeZone: r.data.timezone, weekday: 'short', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' }) : 'Closed (no day has hours)');
          st.className = 'chip ' + (r.data.open_now ? 'status-active' : 'status-disabled');
        }
        say(out, 'ok', 'Saved for ' + r.data.timezone + '.');
      });
    });
  }

  // ---------------------------------------------------------------- templates
  /** Puts text at the cursor of a textarea or input (replacing the selection). */
  function insertAtCursor(el, text) {
    const start = el.selectionStart == null ? el.value.length : el.selectionStart;
    const end = el.selectionEnd == null ? start : el.selectionEnd;
    el.value = el.value.slice(0, start) + text + el.value.slice(end);
    el.focus();
    el.setSelectionRange(start + text.length, start + text.length);
  }

  function initTemplates(sec) {
    const editor = $('[data-template-editor]');
    const form = $('[data-template-form]', editor);
    const out = $('.row [data-result]', form);
    const listOut = $(':scope > [data-result]', sec);
    const box = $('[data-preview-box]', editor);
    const subjectField = $('[data-subject-field]', form);
    let lastField = form.elements.body;
    for (const f of [form.elements.body, form.elements.subject]) f.addEventListener('focus', () => { lastField = f; });
    const syncChannel = () => { if (form.elements.channel) subjectField.hidden = form.elements.channel.value === 'sms'; };
    if (form.elements.channel) form.elements.channel.addEventListener('change', syncChannel);
    for (const chip of $$('[data-var]', editor)) {
      // mousedown would move the focus away from the field the variable goes into.
      chip.addEventListener('mousedown', (e) => e.preventDefault());
      chip.addEventListener('click', () => insertAtCursor(lastField, '{{ ' + chip.getAttribute('data-var') + ' }}'));
    }
    const showPreview = (d) => {
      $('[data-preview-subject]', box).textContent = d.subject ? 'Subject: ' + d.subject : '';
      $('[data-preview-body]', box).textContent = d.body;
      box.hidden = false;
    };
    const leadId = () => { const v = parseInt(form.elements.lead_id.value, 10); return isNaN(v) ? undefined : v; };
    const preview = $('[data-preview]', form);
    preview.addEventListener('click', () => busy(preview, async () => {
      box.hidden = true;
      const r = await api('POST', '/api/templates/preview', { body: form.elements.body.value, subject: form.elements.subject.value || undefined, lead_id: leadId() });
      if (!r.ok) { say(out, 'err', r.error); return; }
      say(out, '', '');
      showPreview(r.data);
    }));
    const cancel = $('[data-new]', form);
    const reset = () => {
      form.reset();
      form.elements.id.value = '';
      $('[data-editor-title]', editor).textContent = 'New template';
      if (cancel) cancel.hidden = true;
      syncChannel();
    };
    if (cancel) cancel.addEventListener('click', reset);
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      busy(e.submitter, async () => {
        const id = form.elements.id.value;
        const body = { name: form.elements.name.value.trim(), channel: form.elements.channel.value, subject: form.elements.channel.value === 'sms' ? '' : form.elements.subject.value.trim(), body: form.elements.body.value };
        if (!id && !body.subject) delete body.subject;
        const r = id ? await api('PATCH', '/api/templates/' + encodeURIComponent(id), body) : await api('POST', '/api/templates', body);
        if (!r.ok) { say(out, 'err', r.error); return; }
        say(out, 'ok', 'Saved "' + r.data.name + '".');
        reloadSoon();
      });
    });
    for (const row of $$('tr[data-template-id]', sec)) {
      const id = row.getAttribute('data-template-id');
      const pv = $('[data-template-preview]', row);
      pv.addEventListener('click', () => busy(pv, async () => {
        const r = await api('POST', '/api/templates/preview', { template_id: parseInt(id, 10), lead_id: leadId() });
        if (!r.ok) { say(listOut, 'err', r.error); return; }
        say(listOut, '', '');
        showPreview(r.data);
        editor.scrollIntoView({ block: 'nearest' });
      }));
      const edit = $('[data-template-edit]', row);
      if (edit) edit.addEventListener('click', () => {
        form.elements.id.value = id;
        form.elements.name.value = row.getAttribute('data-t-name');
        form.elements.channel.value = row.getAttribute('data-t-channel');
        form.elements.subject.value = row.getAttribute('data-t-subject');
        form.elements.body.value = row.getAttribute('data-t-body');
        $('[data-editor-title]', editor).textContent = 'Edit "' + row.getAttribute('data-t-name') + '"';
        if (cancel) cancel.hidden = false;
        syncChannel();
        form.elements.name.focus();
      });
      const del = $('[data-template-delete]', row);
      if (del) del.addEventListener('click', () => busy(del, async () => {
        if (!confirm('Delete the template "' + row.getAttribute('data-t-name') + '"?')) return;
        const r = await api('DELETE', '/api/templates/' + encodeURIComponent(id));
        if (!r.ok) { say(listOut, 'err', r.error); return; }
        row.remove();
        say(listOut, 'ok', 'Deleted.');
      }));
    }
    syncChannel();
  }

  // ---------------------------------------------------------------- sequences
  function initSequences(root) {
    for (const card of $$('[data-seq-id]', root)) {
      const id = card.getAttribute('data-seq-id');
      const out = $('[data-result]', card);
      const sw = $('[data-seq-enabled]', card);
      if (sw) sw.addEventListener('change', () => busy(sw, async () => {
        const want = sw.checked;
        const r = await api('PATCH', '/api/sequences/' + encodeURIComponent(id), { enabled: want });
        if (!r.ok) { sw.checked = !want; say(out, 'err', r.error); return; }
        sw.checked = r.data.enabled;
        $('[data-seq-state]', card).textContent = r.data.enabled ? 'On' : 'Off';
        say(out, 'ok', r.data.enabled ? 'On: leads its trigger matches from now on are enrolled.' : 'Off: no new leads are enrolled.');
      }));
      const edit = $('[data-seq-edit]', card);
      if (edit) edit.addEventListener('click', () => {
        let data = {};
        try { data = JSON.parse(card.getAttribute('data-seq-json')); } catch (e) { /* empty editor */ }
        openEditor(id, data);
      });
    }
    const editor = $('[data-seq-editor]');
    if (!editor) return;
    const form = $('[data-seq-form]', editor);
    const steps = $('[data-steps]', form);
    const out = $('.actions [data-result]', form);
    const tpl = $('[data-step-template]');
    const syncTrigger = () => {
      for (const el of $$('[data-trigger-only]', form)) el.hidden = el.getAttribute('data-trigger-only') !== form.elements.trigger.value;
    };
    form.elements.trigger.addEventListener('change', syncTrigger);
    function addStep(s) {
      const li = tpl.content.firstElementChild.cloneNode(true);
      const f = (n) => $('[data-f="' + n + '"]', li);
      const sync = () => { $('[data-email-only]', li).hidden = f('channel').value !== 'email'; };
      if (s) {
        f('channel').value = s.channel;
        const unit = [86400, 3600, 60].find((u) => s.delay_secs % u === 0) || 60;
        f('delay_unit').value = String(unit);
        f('delay_n').value = String(Math.round(s.delay_secs / unit));
        f('open_hours_only').checked = !!s.open_hours_only;
        f('subject').value = s.subject || '';
        f('body').value = s.body || '';
      }
      f('channel').addEventListener('change', sync);
      $('[data-step-remove]', li).addEventListener('click', () => li.remove());
      sync();
      steps.append(li);
    }
    function openEditor(id, data) {
      form.reset();
      steps.replaceChildren();
      form.elements.id.value = id || '';
      form.elements.name.value = data.name || '';
      const t = data.trigger || { on: 'manual' };
      form.elements.trigger.value = t.on;
      if (t.on === 'stage') form.elements.stage.value = t.stage;
      if (t.on === 'new_lead') form.elements.sources.value = (t.sources || []).join(', ');
      if (t.on === 'no_reply') form.elements.hours.value = t.hours;
      if (t.on === 'next_action') form.elements.action.value = t.action;
      for (const s of data.steps || [null]) addStep(s);
      $('[data-seq-editor-title]', editor).textContent = id ? 'Edit "' + data.name + '"' : 'New sequence';
      say(out, '', '');
      syncTrigger();
      editor.hidden = false;
      editor.scrollIntoView({ block: 'start' });
      form.elements.name.focus();
    }
    $('[data-step-add]', form).addEventListener('click', () => addStep(null));
    $('[data-seq-cancel]', form).addEventListener('click', () => { editor.hidden = true; });
    const create = $('[data-seq-new]');
    if (create) create.addEventListener('click', () => openEditor('', {}));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      busy(e.submitter, async () => {
        const on = form.elements.trigger.value;
        const trigger = { on };
        if (on === 'stage') trigger.stage = form.elements.stage.value;
        if (on === 'new_lead') trigger.sources = form.elements.sources.value.split(',').map((x) => x.trim()).filter(Boolean);
        if (on === 'no_reply') trigger.hours = parseInt(form.elements.hours.value, 10) || 0;
        if (on === 'next_action') trigger.action = form.elements.action.value;
        const list = $$('[data-step]', steps).map((li) => {
          const f = (n) => $('[data-f="' + n + '"]', li);
          const s = {
            channel: f('channel').value,
            delay_secs: (parseInt(f('delay_n').value, 10) || 0) * parseInt(f('delay_unit').value, 10),
            open_hours_only: f('open_hours_only').checked,
            body: f('body').value,
          };
          if (s.channel === 'email') s.subject = f('subject').value;
          return s;
        });
        const id = form.elements.id.value;
        const body = { name: form.elements.name.value.trim(), trigger, steps: list };
        const r = id ? await api('PATCH', '/api/sequences/' + encodeURIComponent(id), body) : await api('POST', '/api/sequences', body);
        if (!r.ok) { say(out, 'err', r.error); return; }
        say(out, 'ok', 'Saved "' + r.data.name + '".' + (r.data.enabled ? '' : ' Turn it on to start enrolling leads.'));
        reloadSoon(1200);
      });
    });
  }

  // ---------------------------------------------------------------- a lead's follow-ups
  const NEXT_WORDS = {
    send: 'sends step', wait: 'waits with step', enrol: 'would enrol it, then send step',
  };
  async function loadNext(card, leadId) {
    const list = $('[data-next-steps]', card);
    const r = await api('POST', '/api/automations/preview', { lead_id: leadId });
    if (!r.ok) { list.replaceChildren(h('li', { class: 'muted' }, r.error)); return; }
    const items = (r.data || []).filter((it) => NEXT_WORDS[it.action]);
    if (!items.length) { list.replaceChildren(h('li', { class: 'muted' }, 'Nothing is planned.')); return; }
    list.replaceChildren(...items.map((it) => h('li', { 'data-next': it.sequence_id, 'data-action': it.action },
      h('strong', {}, it.sequence_name), ' ',
      NEXT_WORDS[it.action] + ' ' + ((it.step || 0) + 1),
      it.at ? ' on ' + new Date(it.at).toLocaleString([], { month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' }) : '',
      it.reason && it.action === 'wait' ? ' (' + it.reason + ')' : '',
      it.message ? h('div', { class: 'muted seq-words' }, '“' + it.message + '”') : null)));
  }

  function initFollowUps(card) {
    const leadId = parseInt(card.getAttribute('data-lead-id'), 10);
    const out = $('[data-result]', card);
    const enrol = $('[data-seq-enrol]', card);
    if (enrol) enrol.addEventListener('click', () => busy(enrol, async () => {
      const pick = $('[data-seq-pick]', card);
      const r = await api('POST', '/api/sequences/' + encodeURIComponent(pick.value) + '/enroll', { lead_id: leadId });
      if (!r.ok) { say(out, 'err', r.error); return; }
      say(out, 'ok', 'Enrolled in ' + r.data.sequence_name + '.');
      reloadSoon(700);
    }));
    for (const b of $$('[data-seq-stop]', card)) {
      b.addEventListener('click', () => busy(b, async () => {
        const r = await api('DELETE', '/api/sequences/' + encodeURIComponent(b.getAttribute('data-seq-stop')) + '/enroll', { lead_id: leadId });
        if (!r.ok) { say(out, 'err', r.error); return; }
        say(out, 'ok', 'Stopped: nothing more is sent from it.');
        reloadSoon(700);
      }));
    }
    loadNext(card, leadId);
  }

  // ---------------------------------------------------------------- "Use a template"
  /** Fills a reply box with a template written for the lead; the person edits, then sends. */
  function initUseTemplate(select, leadOf, textarea, subject) {
    const out = select.closest('form, section, .convo-body');
    select.addEventListener('change', () => busy(select, async () => {
      const id = parseInt(select.value, 10);
      if (isNaN(id)) return;
      const leadId = leadOf();
      const r = await api('POST', '/api/templates/preview', { template_id: id, lead_id: leadId || undefined });
      const res = out ? $('[data-result]', out) : null;
      select.value = '';
      if (!r.ok) { say(res, 'err', r.error); return; }
      textarea.value = r.data.body;
      if (subject && r.data.subject) subject.value = r.data.subject;
      say(res, '', '');
      textarea.focus();
    }));
  }

  function init() {
    const hours = $('[data-hours]');
    if (hours) initHours(hours);
    const tpls = $('[data-templates]');
    if (tpls) initTemplates(tpls);
    const seqs = $('[data-sequences]');
    if (seqs) initSequences(seqs);
    const fu = $('[data-follow-ups]');
    if (fu) initFollowUps(fu);
    const reply = $('[data-reply]');
    const pick = reply ? $('[data-use-template]', reply) : null;
    if (pick) initUseTemplate(pick, () => parseInt(reply.getAttribute('data-lead-id'), 10), reply.elements.text, reply.elements.subject);
    const convo = $('[data-conversations]');
    const chatPick = convo ? $('[data-use-template]', convo) : null;
    if (chatPick) {
      // The chat's lead is known once a session is open (its "Lead profile" link).
      const leadOf = () => { const m = /\/leads\/(\d+)/.exec($('[data-lead-link]', convo).getAttribute('href') || ''); return m && !$('[data-lead-link]', convo).hidden ? parseInt(m[1], 10) : null; };
      const pane = $('[data-pane]', convo);
      new MutationObserver(() => { chatPick.disabled = pane.hidden; }).observe(pane, { attributes: true, attributeFilter: ['hidden'] });
      initUseTemplate(chatPick, leadOf, $('[data-chat-reply] textarea', convo), null);
    }
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
