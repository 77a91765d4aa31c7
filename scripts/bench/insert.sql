-- pgbench baseline for scripts/bench-ingest: the single-row INSERT the recording path runs
-- (same columns the API fills), for a pre-existing lead, with a unique provider_message_id
-- per transaction, spread like the API load over the account's ~1,000 leads (writers of one
-- lead queue on its row in the response-facts trigger, so one shared lead would measure
-- that queue, not the database). Variables: -D account_id=… -D lead_lo=… -D lead_hi=…
\set n random(1, 2000000000)
\set l random(:lead_lo, :lead_hi)
insert into communications (account_id, lead_id, type, direction, "timestamp", from_address, to_address,
    subject, content, metadata, status, duration, attachments, ai_generated, sentiment, sentiment_score,
    tags, provider, provider_message_id, thread_key)
values (:account_id, (select id from leads where account_id = :account_id and id >= :l order by id limit 1), 'sms', 'inbound', now(), '+13126419999', '+13125550100',
    null, 'Hi, I think my roof is leaking again after last night''s storm. Can someone come take a look this week?',
    '{}'::jsonb, null, null, '[]'::jsonb, false, 'negative', -0.42,
    '{}'::text[], 'twilio', 'pgb-' || :client_id || '-' || :n || '-' || md5(random()::text), null)
on conflict (account_id, type, provider_message_id) do nothing
returning id;
