-- pgbench "floor" for scripts/bench-ingest (information, not the baseline): the writes a
-- recorded communication cannot do without, as the recording path does them, in one
-- statement: insert the row of scripts/bench/insert.sql and rewrite its lead's score,
-- insights and last activity (an in-place HOT update, as every touch does). No reads but the
-- lead's id. Its rate over the single-row INSERT's bounds the ratio any implementation of the
-- issue's rules (score and insights current after every touch) could reach here.
-- Variables: -D account_id=… -D lead_lo=… -D lead_hi=…
\set n random(1, 2000000000)
\set l random(:lead_lo, :lead_hi)
with lead as (select id from leads where account_id = :account_id and id >= :l order by id limit 1),
ins as (
    insert into communications (account_id, lead_id, type, direction, "timestamp", from_address, to_address,
        subject, content, metadata, status, duration, attachments, ai_generated, sentiment, sentiment_score,
        tags, provider, provider_message_id, thread_key)
    select :account_id, lead.id, 'sms', 'inbound', now(), '+13126419999', '+13125550100',
        null, 'Hi, I think my roof is leaking again after last night''s storm. Can someone come take a look this week?',
        '{}'::jsonb, null, null, '[]'::jsonb, false, 'negative', -0.42,
        '{}'::text[], 'twilio', 'pgf-' || :client_id || '-' || :n || '-' || md5(random()::text), null
    from lead
    returning lead_id)
update leads set score = score, score_band = score_band, score_breakdown = score_breakdown, insights = insights,
    last_activity_at = greatest(last_activity_at, now()), updated_at = now()
where id = (select lead_id from ins) and account_id = :account_id;
