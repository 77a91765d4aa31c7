-- pgbench "floor" for scripts/bench-webhooks (information, not the baseline): the writes an
-- inbound SMS webhook cannot do without, whatever the server does around them, in one
-- transaction and with no reads but the lead's id: store the Telnyx event once
-- (webhook_events, with the envelope of scripts/bench/webhooks/sign.py), insert the
-- communication (the row of scripts/bench/insert.sql), and update the lead's score,
-- insights and last activity (rewriting the row as the recording path does).
-- Its rate over the single-row INSERT's is the highest ratio any implementation of the
-- issue's rules could reach on this schema and machine.
-- Variables: -D account_id=… -D lead_lo=… -D lead_hi=…
\set n random(1, 2000000000)
\set l random(:lead_lo, :lead_hi)
begin;
insert into webhook_events (provider, event_id, account_id, event_type, payload, processed_at)
values ('pgbench', 'pgbf-' || :client_id || '-' || :n || '-' || md5(random()::text), :account_id, 'message.received',
    '{"data":{"event_type":"message.received","id":"evt-floor","occurred_at":"2026-12-02T02:00:00.000+00:00","payload":{"id":"msg-floor","record_type":"message","direction":"inbound","type":"SMS","from":{"phone_number":"+13126410001","carrier":"T-Mobile USA","line_type":"Wireless"},"to":[{"phone_number":"+13126412200","status":"webhook_delivered"}],"text":"Hi, I think my roof is leaking again after last night''s storm. Can someone come take a look this week?","media":[],"parts":1,"received_at":"2026-12-02T02:00:00.000+00:00","messaging_profile_id":"mp-bench"},"record_type":"event"},"meta":{"attempt":1,"delivered_to":"https://bench.invalid/webhooks/telnyx"}}'::jsonb,
    now());
with lead as (select id from leads where account_id = :account_id and id >= :l order by id limit 1),
ins as (
    insert into communications (account_id, lead_id, type, direction, "timestamp", from_address, to_address,
        subject, content, metadata, status, duration, attachments, ai_generated, sentiment, sentiment_score,
        tags, provider, provider_message_id, thread_key)
    select :account_id, lead.id, 'sms', 'inbound', now(), '+13126419999', '+13125550100',
        null, 'Hi, I think my roof is leaking again after last night''s storm. Can someone come take a look this week?',
        '{"event_id":"evt-floor","type":"SMS","parts":1,"messaging_profile_id":"mp-bench"}'::jsonb, 'received', null, '[]'::jsonb,
        false, 'negative', -0.42, '{}'::text[], 'telnyx', 'pgbf-' || :client_id || '-' || :n || '-' || md5(random()::text), null
    from lead
    returning lead_id)
update leads set score = score, score_band = score_band, score_breakdown = score_breakdown, insights = insights,
    last_activity_at = greatest(last_activity_at, now()), updated_at = now()
where id = (select lead_id from ins) and account_id = :account_id;
commit;
