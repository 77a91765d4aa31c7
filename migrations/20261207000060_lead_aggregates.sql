-- A lead's touches folded into one row (`tracker::aggregate::Aggregate`), so its profile
-- reads this row, the touches written since and its most recent ones instead of its whole
-- history (`leads::aggregates`).
--
-- Reads keep the rows: a profile read folds in the touches after the row's last one and
-- writes the row back, but only onto the version it read. The recording path never writes
-- here. What would make a row wrong instead makes the database forget it (`state` null,
-- `version` bumped), and the next read rebuilds it from the whole history:
--   * a touch inserted before a later touch of its lead (the insert trigger that already
--     catches those for the response facts). Inserts of one lead queue on the lead's row
--     lock there, so a touch committed after a read's snapshot is either after everything
--     that read saw, or caught by that trigger;
--   * a touch moved to another lead, in time, turned around, retyped or re-rated;
--   * a deleted touch.
-- Forgetting a lead that has no row inserts an empty one, so a read that saw no row
-- cannot store a history that changed behind it.
create table lead_aggregates (
    lead_id bigint primary key references leads(id) on delete cascade,
    account_id bigint not null references accounts(id) on delete cascade,
    -- the account's time zone (accounts.timezone) the local contact hours were counted in
    zone text not null,
    -- the aggregate without its scores (serde JSON); null: to be rebuilt
    state jsonb,
    -- finite sentiment scores of the inbound touches, in ("timestamp", id) order
    scores real[] not null default '{}',
    version bigint not null default 0
);

create function leadline_forget_lead_aggregate(p_account bigint, p_lead bigint)
returns void language sql as $$
    insert into lead_aggregates as g (lead_id, account_id, zone)
    select p_lead, p_account, '' where exists (select 1 from leads where id = p_lead)
    on conflict (lead_id) do update set state = null, scores = '{}', version = g.version + 1;
$$;

-- After a bulk load that bypasses the triggers (COPY with triggers disabled).
create function leadline_forget_lead_aggregates(p_account bigint)
returns bigint language plpgsql as $$
declare
    n bigint;
begin
    update lead_aggregates set state = null, scores = '{}', version = version + 1
    where account_id = p_account;
    get diagnostics n = row_count;
    return n;
end
$$;

-- A touch inserted before a later touch of its lead: recompute the lead's response facts
-- and forget its aggregate (in order, the usual case, costs one index probe as before).
create or replace function leadline_response_facts_after_insert() returns trigger language plpgsql as $$
begin
    if exists (select 1 from communications
               where lead_id = new.lead_id and ("timestamp", id) > (new."timestamp", new.id)) then
        perform leadline_rebuild_response_facts(new.account_id, new.lead_id);
        perform leadline_forget_lead_aggregate(new.account_id, new.lead_id);
    end if;
    return null;
end
$$;

create function leadline_lead_aggregates_after_update() returns trigger language plpgsql as $$
begin
    perform leadline_forget_lead_aggregate(new.account_id, new.lead_id);
    if old.lead_id is distinct from new.lead_id then
        perform leadline_forget_lead_aggregate(old.account_id, old.lead_id);
    end if;
    return null;
end
$$;

create trigger communications_lead_aggregates_update
    after update of lead_id, type, direction, "timestamp", sentiment, sentiment_score on communications
    for each row
    when (old.lead_id is distinct from new.lead_id or old.type is distinct from new.type
          or old.direction is distinct from new.direction or old."timestamp" is distinct from new."timestamp"
          or old.sentiment is distinct from new.sentiment
          or old.sentiment_score is distinct from new.sentiment_score)
    execute function leadline_lead_aggregates_after_update();

-- Deleted touches (once per statement: deleting a lead removes all of its touches). A
-- lead deleted with them has no row left to forget.
create function leadline_lead_aggregates_after_delete() returns trigger language plpgsql as $$
begin
    perform leadline_forget_lead_aggregate(account_id, lead_id)
    from (select distinct account_id, lead_id from gone) d;
    return null;
end
$$;

create trigger communications_lead_aggregates_delete
    after delete on communications
    referencing old table as gone
    for each statement execute function leadline_lead_aggregates_after_delete();
