-- Account stats over a long history read closed UTC days from a cache instead of every
-- touch: per day and channel the counts the stats endpoint sums, and per day the inbound
-- touches per UTC quarter hour (any time zone's hours can be rebuilt from quarters).
-- A day is computed the first time it is asked for (`stats_days_done`) and forgotten
-- whenever something of that day changes (the triggers below); today is always live.
create table stats_days (
    account_id bigint not null references accounts(id) on delete cascade,
    day date not null,
    type text not null,
    inbound integer not null,
    outbound integer not null,
    answered integer not null,
    reply_secs double precision not null,
    replies integer not null,
    ai_outbound integer not null,
    primary key (account_id, day, type)
);
create table stats_day_quarters (
    account_id bigint not null references accounts(id) on delete cascade,
    day date not null,
    quarter smallint not null check (quarter between 0 and 95),
    inbound integer not null,
    primary key (account_id, day, quarter)
);
create table stats_days_done (
    account_id bigint not null references accounts(id) on delete cascade,
    day date not null,
    primary key (account_id, day)
);

-- Forgets the cached day of `p_at` when it is a past day. Writers take the account's
-- stats lock shared; the reader that fills the cache takes it exclusively, so a day is
-- never marked done with counts that miss a concurrent write.
create function leadline_stats_dirty(p_account bigint, p_at timestamptz) returns void
language plpgsql as $$
begin
    if p_at < date_trunc('day', now() at time zone 'UTC') at time zone 'UTC' then
        perform pg_advisory_xact_lock_shared(7011, p_account::integer);
        delete from stats_days_done
        where account_id = p_account and day = (p_at at time zone 'UTC')::date;
    end if;
end
$$;

create or replace function leadline_rebuild_response_facts(p_account bigint, p_lead bigint default null)
returns bigint language plpgsql as $$
declare
    n bigint;
    days date[];
    d date;
begin
    if p_lead is not null then
        -- Writers of one lead queue on its row (see the insert trigger).
        perform 1 from leads where id = p_lead for no key update;
    end if;
    with facts as (
        select id,
            case when direction = 'outbound'
                 then coalesce(lead(direction) over w = 'inbound', false) end as answered,
            case when direction = 'inbound'
                 then lag(direction) over w is distinct from 'inbound' end as run_start,
            case when direction = 'inbound' and lag(direction) over w is distinct from 'inbound'
                 then min(case when direction = 'outbound' then "timestamp" end)
                      over (partition by lead_id order by "timestamp" desc, id desc
                            rows between unbounded preceding and 1 preceding) end as reply_at
        from communications
        where account_id = p_account and (p_lead is null or lead_id = p_lead)
        window w as (partition by lead_id order by "timestamp", id)
    ), changed as (
        update communications c
        set answered = f.answered, run_start = f.run_start, reply_at = f.reply_at
        from facts f
        where c.id = f.id
          and (c.answered, c.run_start, c.reply_at) is distinct from (f.answered, f.run_start, f.reply_at)
        returning c."timestamp"
    )
    select count(*), array_agg(distinct ("timestamp" at time zone 'UTC')::date)
    into n, days from changed;
    foreach d in array coalesce(days, '{}') loop
        perform leadline_stats_dirty(p_account, d::timestamp at time zone 'UTC');
    end loop;
    return n;
end
$$;

create or replace function leadline_response_facts_before_insert() returns trigger language plpgsql as $$
declare
    prev_dir text;
    prev_id bigint;
    prev_at timestamptz;
    run_id bigint;
    run_at timestamptz;
begin
    -- Concurrent writers of the same lead queue here, so each sees the previous one's
    -- touch (facts stay exact) and rows are always locked lead first (no deadlocks).
    perform 1 from leads where id = new.lead_id for no key update;
    perform leadline_stats_dirty(new.account_id, new."timestamp");
    select direction, id, "timestamp" into prev_dir, prev_id, prev_at from communications
    where lead_id = new.lead_id and ("timestamp", id) < (new."timestamp", new.id)
    order by "timestamp" desc, id desc limit 1;
    if new.direction = 'outbound' then
        new.answered := false;
        new.run_start := null;
        new.reply_at := null;
        if prev_dir = 'inbound' then
            select id, "timestamp" into run_id, run_at from communications
            where lead_id = new.lead_id and run_start
              and ("timestamp", id) < (new."timestamp", new.id)
            order by "timestamp" desc, id desc limit 1;
            if run_id is not null then
                update communications set reply_at = new."timestamp"
                where id = run_id and reply_at is null;
                perform leadline_stats_dirty(new.account_id, run_at);
            end if;
        end if;
    else
        new.answered := null;
        new.run_start := prev_dir is distinct from 'inbound';
        new.reply_at := null;
        if prev_dir = 'outbound' then
            update communications set answered = true where id = prev_id and answered is not true;
            perform leadline_stats_dirty(new.account_id, prev_at);
        end if;
    end if;
    return new;
end
$$;

-- Changes of what the stats count (channel, AI flag) forget the days concerned; moves in
-- time, between leads, or of direction also recompute the leads' response facts.
create or replace function leadline_response_facts_after_update() returns trigger language plpgsql as $$
begin
    perform leadline_stats_dirty(old.account_id, old."timestamp");
    perform leadline_stats_dirty(new.account_id, new."timestamp");
    if old.lead_id is distinct from new.lead_id or old.direction is distinct from new.direction
       or old."timestamp" is distinct from new."timestamp" then
        perform leadline_rebuild_response_facts(new.account_id, new.lead_id);
        if old.lead_id is distinct from new.lead_id then
            perform leadline_rebuild_response_facts(old.account_id, old.lead_id);
        end if;
    end if;
    return null;
end
$$;

drop trigger communications_response_facts_update on communications;
create trigger communications_response_facts_update
    after update of lead_id, direction, "timestamp", type, ai_generated on communications
    for each row
    when (old.lead_id is distinct from new.lead_id or old.direction is distinct from new.direction
          or old."timestamp" is distinct from new."timestamp" or old.type is distinct from new.type
          or old.ai_generated is distinct from new.ai_generated)
    execute function leadline_response_facts_after_update();

create function leadline_stats_after_delete() returns trigger language plpgsql as $$
begin
    perform leadline_stats_dirty(old.account_id, old."timestamp");
    return null;
end
$$;
create trigger communications_stats_delete
    after delete on communications
    for each row execute function leadline_stats_after_delete();
