-- pgbench baseline for scripts/bench-ingest: the single-row INSERT the recording path runs
-- (same columns the API fills), for a pre-existing lead, with a unique provider_message_id
-- per transaction. Variables: -D account_id=… -D lead_id=…
\set n random(1, 2000000000)
insert into communications (account_id, lead_id, type, direction, "timestamp", from_address, to_address,
    subject, content, metadata, status, duration, attachments, ai_generated, sentiment, sentiment_score,
    tags, provider, provider_message_id, thread_key)
values (:account_id, :lead_id, 'sms', 'inbound', now(), '+13126419999', '+13125550100',
    null, 'Hi, I think my roof is leaking again after last night''s storm. Can someone come take a look this week?',
    '{}'::jsonb, null, null, '[]'::jsonb, false, 'negative', -0.42,
    '{}'::text[], 'twilio', 'pgb-' || :client_id || '-' || :n || '-' || md5(random()::text), null)
on conflict (account_id, type, provider_message_id) do nothing
returning id;
