-- EXPLAIN (ANALYZE, BUFFERS) of the queries POST /webhooks/telnyx runs itself (see
-- src/channels/sms/webhook.rs), for scripts/bench-webhooks BENCH_EXPLAIN=1, after the load.
-- The writes run inside a transaction that is rolled back. The recording path
-- (communications::record) is the one scripts/bench-ingest measures.
-- Variables: -v account_id=… -v ours=+1… (the connected number) -v evt=… (a stored event id)
\echo '--- candidate_keys: integration keys (every request)'
explain (analyze, buffers, costs off)
select distinct webhook_public_key from sms_integrations where webhook_public_key is not null;
\echo '--- account_for_number'
explain (analyze, buffers, costs off)
select n.account_id, i.webhook_public_key from sms_numbers n
join sms_integrations i on i.id = n.integration_id
where n.phone_number = :'ours';
begin;
\echo '--- store_event: insert into webhook_events (a new event id)'
explain (analyze, buffers, costs off)
insert into webhook_events (provider, event_id, account_id, event_type, payload)
select 'telnyx', 'explain-' || event_id, account_id, event_type, payload
from webhook_events where provider = 'telnyx' and event_id = :'evt'
on conflict (provider, event_id) do nothing returning id;
\echo '--- mark_processed'
explain (analyze, buffers, costs off)
update webhook_events set processed_at = coalesce(processed_at, now()),
    account_id = coalesce(account_id, :account_id)
where provider = 'telnyx' and event_id = any(array['explain-' || :'evt']);
rollback;
\echo '--- table sizes after the run'
select relname, n_live_tup, pg_size_pretty(pg_total_relation_size(relid)) as total_size
from pg_stat_user_tables where relname in ('communications', 'webhook_events', 'leads') order by relname;
