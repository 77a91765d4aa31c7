-- Raw-SQL equivalent of the per-lead summary (scripts/bench-tracker baseline), psql variable
-- :lead. Counts by type and direction (with subtotals), answered outbound (the next touch in
-- (timestamp, id) order is inbound) → response rate, mean response time, speed to lead.
with t as (
    select type, direction, "timestamp" as ts,
           lag(direction) over w as prev_dir,
           lead(direction) over w as next_dir,
           lead("timestamp") over w as next_ts,
           min(case when direction = 'outbound' then "timestamp" end)
               over (order by "timestamp" desc, id desc rows between unbounded preceding and 1 preceding) as next_out_at
    from communications
    where lead_id = :lead
    window w as (order by "timestamp", id)
)
select type, direction, count(*) as touches,
       count(*) filter (where direction = 'outbound' and next_dir = 'inbound') as answered,
       round(count(*) filter (where direction = 'outbound' and next_dir = 'inbound')::numeric
             / nullif(count(*) filter (where direction = 'outbound'), 0), 3) as response_rate,
       round((avg(extract(epoch from next_ts - ts)) filter (where direction = 'outbound' and next_dir = 'inbound') / 3600)::numeric, 2)
           as avg_response_time_hours,
       round((avg(extract(epoch from next_out_at - ts)) filter (
           where direction = 'inbound' and prev_dir is distinct from 'inbound' and next_out_at is not null) / 60)::numeric, 2)
           as our_avg_response_time_minutes
from t
group by grouping sets ((type, direction), (type), (direction), ())
order by type nulls last, direction nulls last;
