-- The stats endpoint's per-channel query (src/tracker/stats.rs, no from/to), psql variable :acct.
select type,
    count(*) filter (where direction = 'inbound'),
    count(*) filter (where direction = 'outbound'),
    count(*) filter (where direction = 'outbound' and answered),
    (avg(extract(epoch from reply_at - "timestamp")) filter (where run_start and reply_at is not null) / 60)::float8,
    count(*) filter (where run_start and reply_at is not null),
    count(*) filter (where ai_generated and direction = 'outbound')
from communications
where account_id = :acct and (null::timestamptz is null or "timestamp" >= null::timestamptz)
  and (null::timestamptz is null or "timestamp" < null::timestamptz)
group by type;
