-- The stats endpoint's per-channel query (src/tracker/stats.rs, no from/to), psql variable :acct.
with base as (
    select type, direction, "timestamp" as ts, ai_generated,
        lag(direction) over w as prev_dir,
        lead(direction) over w as next_dir,
        min(case when direction = 'outbound' then "timestamp" end)
            over (partition by lead_id order by "timestamp" desc, id desc
                  rows between unbounded preceding and 1 preceding) as next_out_at
    from communications
    where account_id = :acct and (null::timestamptz is null or "timestamp" >= null::timestamptz)
      and (null::timestamptz is null or "timestamp" < null::timestamptz)
    window w as (partition by lead_id order by "timestamp", id)
)
select type,
    count(*) filter (where direction = 'inbound'),
    count(*) filter (where direction = 'outbound'),
    count(*) filter (where direction = 'outbound' and next_dir = 'inbound'),
    (avg(extract(epoch from next_out_at - ts)) filter (
        where direction = 'inbound' and prev_dir is distinct from 'inbound' and next_out_at is not null) / 60)::float8,
    count(*) filter (where direction = 'inbound' and prev_dir is distinct from 'inbound' and next_out_at is not null),
    count(*) filter (where ai_generated and direction = 'outbound')
from base group by type;
