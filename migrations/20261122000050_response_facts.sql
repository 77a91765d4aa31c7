-- Response facts kept on each touch, so account stats are one plain aggregate instead of
-- window functions over every touch of the account (1M touches: ~1.7 s -> a scan).
--   answered   (outbound) the lead's next touch is inbound: the touch was answered
--   run_start  (inbound)  the lead's previous touch is not inbound: it starts a run of
--              inbound touches that we owe an answer to
--   reply_at   (inbound run start) when our first outbound touch after it happened
-- Order is the tracker's: ("timestamp", id) within the lead.
alter table communications
    add column answered boolean,
    add column run_start boolean,
    add column reply_at timestamptz;

-- Recomputes the facts of one lead (p_lead) or of a whole account (p_lead null) from
-- scratch; returns the number of rows changed. Used after bulk loads (COPY with the
-- triggers disabled), after moving touches between leads, and by the insert trigger
-- when a touch arrives out of order.
create function leadline_rebuild_response_facts(p_account bigint, p_lead bigint default null)
returns bigint language plpgsql as $$
declare
    n bigint;
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
    )
    update communications c
    set answered = f.answered, run_start = f.run_start, reply_at = f.reply_at
    from facts f
    where c.id = f.id
      and (c.answered, c.run_start, c.reply_at) is distinct from (f.answered, f.run_start, f.reply_at);
    get diagnostics n = row_count;
    return n;
end
$$;

-- A touch that arrives after every other touch of its lead (the usual case): its own facts
-- from the previous touch, and at most one earlier row updated (the outbound it answers,
-- or the start of the inbound run it answers).
create function leadline_response_facts_before_insert() returns trigger language plpgsql as $$
declare
    prev_dir text;
    prev_id bigint;
begin
    -- Concurrent writers of the same lead queue here, so each sees the previous one's
    -- touch (facts stay exact) and rows are always locked lead first (no deadlocks).
    perform 1 from leads where id = new.lead_id for no key update;
    select direction, id into prev_dir, prev_id from communications
    where lead_id = new.lead_id and ("timestamp", id) < (new."timestamp", new.id)
    order by "timestamp" desc, id desc limit 1;
    if new.direction = 'outbound' then
        new.answered := false;
        new.run_start := null;
        new.reply_at := null;
        if prev_dir = 'inbound' then
            update communications set reply_at = new."timestamp"
            where id = (select id from communications
                        where lead_id = new.lead_id and run_start
                          and ("timestamp", id) < (new."timestamp", new.id)
                        order by "timestamp" desc, id desc limit 1)
              and reply_at is null;
        end if;
    else
        new.answered := null;
        new.run_start := prev_dir is distinct from 'inbound';
        new.reply_at := null;
        if prev_dir = 'outbound' then
            update communications set answered = true where id = prev_id and answered is not true;
        end if;
    end if;
    return new;
end
$$;

-- A touch inserted before a later touch of its lead (backfilled mail, a call logged late)
-- changes its neighbours' facts: recompute the lead.
create function leadline_response_facts_after_insert() returns trigger language plpgsql as $$
begin
    if exists (select 1 from communications
               where lead_id = new.lead_id and ("timestamp", id) > (new."timestamp", new.id)) then
        perform leadline_rebuild_response_facts(new.account_id, new.lead_id);
    end if;
    return null;
end
$$;

create trigger communications_response_facts_before
    before insert on communications
    for each row execute function leadline_response_facts_before_insert();
create trigger communications_response_facts_after
    after insert on communications
    for each row execute function leadline_response_facts_after_insert();

-- A touch moved to another lead, in time, or turned around (call events correct a call's
-- direction and start): recompute the leads concerned.
create function leadline_response_facts_after_update() returns trigger language plpgsql as $$
begin
    perform leadline_rebuild_response_facts(new.account_id, new.lead_id);
    if old.lead_id is distinct from new.lead_id then
        perform leadline_rebuild_response_facts(old.account_id, old.lead_id);
    end if;
    return null;
end
$$;

create trigger communications_response_facts_update
    after update of lead_id, direction, "timestamp" on communications
    for each row
    when (old.lead_id is distinct from new.lead_id or old.direction is distinct from new.direction
          or old."timestamp" is distinct from new."timestamp")
    execute function leadline_response_facts_after_update();

-- Facts of the touches stored before this migration.
select leadline_rebuild_response_facts(id) from accounts;
