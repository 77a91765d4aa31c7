-- Outgoing webhooks: the triggers on `leads` and `chat_sessions` become row triggers with a
-- WHEN filter (issue 20). As statement triggers with transition tables, PostgreSQL copied
-- the old and new row of every statement into its transition tables, even with no
-- subscription anywhere: every touch updates its lead's score, every chat message its
-- session, so ingest paid for it (about 15 %, measured with scripts/bench-ingest). A WHEN
-- clause is checked in the executor, so an update that is not an event calls nothing.
-- `communications` and `automation_runs` keep their statement triggers: insert-only,
-- one call per batch is cheaper there than one per row.

drop trigger leads_webhooks_out_insert on leads;
drop trigger leads_webhooks_out_update on leads;
drop trigger chat_sessions_webhooks_out on chat_sessions;
drop function webhooks_out_leads_inserted();
drop function webhooks_out_leads_updated();
drop function webhooks_out_chat_closed();

create function webhooks_out_lead_inserted() returns trigger language plpgsql as $$
begin
    insert into webhook_deliveries (account_id, subscription_id, event_type, lead_id, body)
    select new.account_id, s.id, 'lead.created', new.id,
           webhooks_out_envelope('lead.created', webhooks_out_lead_json(new))
    from webhook_subscriptions s
    where s.account_id = new.account_id and s.enabled and 'lead.created' = any(s.events)
    order by s.id;
    if found then perform pg_notify('leadline_webhooks_out', ''); end if;
    return null;
end $$;
create trigger leads_webhooks_out_insert after insert on leads
    for each row execute function webhooks_out_lead_inserted();

-- Stage, assignee and profile changes; not the score and activity updates of every touch.
create function webhooks_out_lead_changed() returns trigger language plpgsql as $$
begin
    insert into webhook_deliveries (account_id, subscription_id, event_type, lead_id, body)
    select new.account_id, s.id, e.type, new.id,
           webhooks_out_envelope(e.type, webhooks_out_lead_json(new) || e.extra)
    from (values
        (1, 'lead.updated',
            (new.name, new.email, new.phone, new.property_address, new.roof_age_years, new.issues, new.timeline, new.budget)
            is distinct from
            (old.name, old.email, old.phone, old.property_address, old.roof_age_years, old.issues, old.timeline, old.budget),
            jsonb_build_object('changed', to_jsonb(array_remove(array[
                case when new.name is distinct from old.name then 'name' end,
                case when new.email is distinct from old.email then 'email' end,
                case when new.phone is distinct from old.phone then 'phone' end,
                case when new.property_address is distinct from old.property_address then 'property_address' end,
                case when new.roof_age_years is distinct from old.roof_age_years then 'roof_age_years' end,
                case when new.issues is distinct from old.issues then 'issues' end,
                case when new.timeline is distinct from old.timeline then 'timeline' end,
                case when new.budget is distinct from old.budget then 'budget' end], null)))),
        (2, 'lead.stage_changed', new.status is distinct from old.status,
            jsonb_build_object('previous_status', old.status)),
        (3, 'lead.assigned', new.assigned_user_id is distinct from old.assigned_user_id,
            jsonb_build_object('previous_assigned_user_id', old.assigned_user_id))
    ) e(rank, type, fired, extra)
    join webhook_subscriptions s on s.account_id = new.account_id and s.enabled
        and e.type = any(s.events)
    where e.fired
    order by e.rank, s.id;
    if found then perform pg_notify('leadline_webhooks_out', ''); end if;
    return null;
end $$;
create trigger leads_webhooks_out_update after update on leads
    for each row
    when ((new.name, new.email, new.phone, new.property_address, new.roof_age_years, new.issues,
           new.timeline, new.budget, new.status, new.assigned_user_id)
          is distinct from
          (old.name, old.email, old.phone, old.property_address, old.roof_age_years, old.issues,
           old.timeline, old.budget, old.status, old.assigned_user_id))
    execute function webhooks_out_lead_changed();

create function webhooks_out_chat_closed() returns trigger language plpgsql as $$
begin
    insert into webhook_deliveries (account_id, subscription_id, event_type, lead_id, body)
    select new.account_id, s.id, 'chat.session.closed', new.lead_id,
           webhooks_out_envelope('chat.session.closed', jsonb_build_object(
               'id', new.id, 'session_id', new.session_id, 'site_id', new.site_id, 'lead_id', new.lead_id,
               'started_at', new.started_at, 'ended_at', new.ended_at, 'message_count', new.message_count,
               'human_takeover', new.human_takeover, 'engagement_score', new.engagement_score,
               'score_band', new.score_band, 'page_url', new.page_url))
    from webhook_subscriptions s
    where s.account_id = new.account_id and s.enabled and 'chat.session.closed' = any(s.events)
    order by s.id;
    if found then perform pg_notify('leadline_webhooks_out', ''); end if;
    return null;
end $$;
create trigger chat_sessions_webhooks_out after update on chat_sessions
    for each row
    when (old.ended_at is null and new.ended_at is not null)
    execute function webhooks_out_chat_closed();
