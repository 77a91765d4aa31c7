-- Outgoing webhooks (issue 19, "Out"): an account's subscriptions, one delivery row per
-- event and subscription, and a log row per attempt. Deliveries are written by the
-- triggers below in the transaction of the change that caused them, so an event exists
-- exactly when its change committed. See src/webhooks_out/.

create table webhook_subscriptions (
    id bigserial primary key,
    account_id bigint not null references accounts(id) on delete cascade,
    url text not null check (length(url) <= 2000),
    events text[] not null check (cardinality(events) > 0 and events <@ array[
        'lead.created','lead.updated','lead.stage_changed','lead.assigned',
        'communication.created','chat.session.closed','automation.step.sent']::text[]),
    enabled boolean not null default true,
    description text check (length(description) <= 500),
    -- The signing secret (`whsec_…`), sealed with the master key.
    secret bytea not null,
    secret_nonce bytea not null,
    secret_key_id text not null,
    -- The secret before the last rotation, still signing beside the new one until then.
    previous_secret bytea,
    previous_secret_nonce bytea,
    previous_secret_key_id text,
    previous_secret_until timestamptz,
    -- Since when every attempt failed (null after a success): disabled after 3 days.
    failing_since timestamptz,
    disabled_reason text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index webhook_subscriptions_account on webhook_subscriptions(account_id, id);
-- What the triggers join against: only enabled subscriptions count.
create index webhook_subscriptions_enabled on webhook_subscriptions(account_id) where enabled;

create table webhook_deliveries (
    id bigserial primary key,
    account_id bigint not null references accounts(id) on delete cascade,
    subscription_id bigint not null references webhook_subscriptions(id) on delete cascade,
    event_type text not null,
    -- Events of one lead go out in order (per subscription). No foreign key: the record
    -- of what was sent outlives a merged or deleted lead.
    lead_id bigint,
    -- Place in the lead's order: a lead's `lead.created` comes first whatever order the
    -- statement triggers of one statement (a lead and its first message) fired in.
    ord bigint generated always as (case when event_type = 'lead.created' then 0 else id end) stored,
    -- The exact bytes signed and sent, the same on every attempt.
    body text not null,
    -- pending -> sending (claimed; `next_attempt_at` is then the lease) -> delivered | failed
    status text not null default 'pending' check (status in ('pending','sending','delivered','failed')),
    attempts integer not null default 0,
    -- The 3-day retry window starts here (a replay starts it anew).
    retry_from timestamptz not null default now(),
    next_attempt_at timestamptz not null default now(),
    last_status integer,
    last_error text,
    created_at timestamptz not null default now(),
    delivered_at timestamptz,
    updated_at timestamptz not null default now()
);
create index webhook_deliveries_due on webhook_deliveries(subscription_id, next_attempt_at, id) where status in ('pending','sending');
create index webhook_deliveries_lead_order on webhook_deliveries(subscription_id, lead_id, ord) where status in ('pending','sending');
create index webhook_deliveries_list on webhook_deliveries(account_id, subscription_id, id desc);
create index webhook_deliveries_account on webhook_deliveries(account_id, id desc);

create table webhook_attempts (
    id bigserial primary key,
    delivery_id bigint not null references webhook_deliveries(id) on delete cascade,
    account_id bigint not null,
    attempt integer not null,
    at timestamptz not null,
    request_headers jsonb not null,
    response_status integer,
    response_ms integer,
    -- The first 2 KB of the answer.
    response_body text,
    error text
);
create index webhook_attempts_delivery on webhook_attempts(delivery_id, id);

-- The bell tells the owners when a failing subscription is turned off.
alter table alerts drop constraint alerts_kind_check;
alter table alerts add constraint alerts_kind_check
    check (kind in ('new_lead','hot_lead','unanswered','escalation','webhook_disabled'));

-- A lead as every lead event carries it.
create function webhooks_out_lead_json(l leads) returns jsonb language sql immutable as $$
    select jsonb_build_object(
        'id', l.id, 'name', l.name, 'email', l.email, 'phone', l.phone,
        'property_address', l.property_address, 'roof_age_years', l.roof_age_years,
        'issues', to_jsonb(l.issues), 'timeline', l.timeline, 'budget', l.budget,
        'source', l.source, 'campaign', l.campaign, 'attribution', l.attribution, 'status', l.status, 'score', l.score, 'score_band', l.score_band,
        'assigned_user_id', l.assigned_user_id, 'created_at', l.created_at, 'updated_at', l.updated_at)
$$;

-- The Standard Webhooks envelope.
create function webhooks_out_envelope(p_type text, p_data jsonb) returns text language sql stable as $$
    select jsonb_build_object('type', p_type, 'timestamp', now(), 'data', p_data)::text
$$;

-- Every trigger below is per statement over its transition table, and writes rows only
-- for accounts with an enabled subscription to that event: with none anywhere, the cost
-- of a statement is one index probe.
create function webhooks_out_leads_inserted() returns trigger language plpgsql as $$
begin
    perform 1 from webhook_subscriptions where enabled limit 1;
    if not found then return null; end if;
    insert into webhook_deliveries (account_id, subscription_id, event_type, lead_id, body)
    select n.account_id, s.id, 'lead.created', n.id,
           webhooks_out_envelope('lead.created', webhooks_out_lead_json(n))
    from new_rows n
    join webhook_subscriptions s on s.account_id = n.account_id and s.enabled
        and 'lead.created' = any(s.events)
    order by n.id, s.id;
    if found then perform pg_notify('leadline_webhooks_out', ''); end if;
    return null;
end $$;
create trigger leads_webhooks_out_insert after insert on leads
    referencing new table as new_rows
    for each statement execute function webhooks_out_leads_inserted();

-- Stage, assignee and profile changes; not the score and activity updates of every touch.
create function webhooks_out_leads_updated() returns trigger language plpgsql as $$
begin
    perform 1 from webhook_subscriptions where enabled limit 1;
    if not found then return null; end if;
    insert into webhook_deliveries (account_id, subscription_id, event_type, lead_id, body)
    select n.account_id, s.id, e.type, n.id,
           webhooks_out_envelope(e.type, webhooks_out_lead_json(n) || e.extra)
    from new_rows n
    join old_rows o on o.id = n.id
    cross join lateral (values
        (1, 'lead.updated',
            (n.name, n.email, n.phone, n.property_address, n.roof_age_years, n.issues, n.timeline, n.budget)
            is distinct from
            (o.name, o.email, o.phone, o.property_address, o.roof_age_years, o.issues, o.timeline, o.budget),
            jsonb_build_object('changed', to_jsonb(array_remove(array[
                case when n.name is distinct from o.name then 'name' end,
                case when n.email is distinct from o.email then 'email' end,
                case when n.phone is distinct from o.phone then 'phone' end,
                case when n.property_address is distinct from o.property_address then 'property_address' end,
                case when n.roof_age_years is distinct from o.roof_age_years then 'roof_age_years' end,
                case when n.issues is distinct from o.issues then 'issues' end,
                case when n.timeline is distinct from o.timeline then 'timeline' end,
                case when n.budget is distinct from o.budget then 'budget' end], null)))),
        (2, 'lead.stage_changed', n.status is distinct from o.status,
            jsonb_build_object('previous_status', o.status)),
        (3, 'lead.assigned', n.assigned_user_id is distinct from o.assigned_user_id,
            jsonb_build_object('previous_assigned_user_id', o.assigned_user_id))
    ) e(rank, type, fired, extra)
    join webhook_subscriptions s on s.account_id = n.account_id and s.enabled
        and e.type = any(s.events)
    where e.fired
    order by n.id, e.rank, s.id;
    if found then perform pg_notify('leadline_webhooks_out', ''); end if;
    return null;
end $$;
create trigger leads_webhooks_out_update after update on leads
    referencing old table as old_rows new table as new_rows
    for each statement execute function webhooks_out_leads_updated();

create function webhooks_out_communications_inserted() returns trigger language plpgsql as $$
begin
    perform 1 from webhook_subscriptions where enabled limit 1;
    if not found then return null; end if;
    insert into webhook_deliveries (account_id, subscription_id, event_type, lead_id, body)
    select n.account_id, s.id, 'communication.created', n.lead_id,
           webhooks_out_envelope('communication.created', jsonb_build_object(
               'id', n.id, 'lead_id', n.lead_id, 'type', n.type, 'direction', n.direction,
               'timestamp', n."timestamp", 'from_address', n.from_address, 'to_address', n.to_address,
               'subject', n.subject, 'content', n.content, 'status', n.status, 'duration', n.duration,
               'ai_generated', n.ai_generated, 'sentiment', n.sentiment,
               'sentiment_score', n.sentiment_score, 'provider', n.provider,
               'provider_message_id', n.provider_message_id, 'created_at', n.created_at))
    from new_rows n
    join webhook_subscriptions s on s.account_id = n.account_id and s.enabled
        and 'communication.created' = any(s.events)
    order by n.id, s.id;
    if found then perform pg_notify('leadline_webhooks_out', ''); end if;
    return null;
end $$;
create trigger communications_webhooks_out after insert on communications
    referencing new table as new_rows
    for each statement execute function webhooks_out_communications_inserted();

create function webhooks_out_chat_closed() returns trigger language plpgsql as $$
begin
    perform 1 from webhook_subscriptions where enabled limit 1;
    if not found then return null; end if;
    insert into webhook_deliveries (account_id, subscription_id, event_type, lead_id, body)
    select n.account_id, s.id, 'chat.session.closed', n.lead_id,
           webhooks_out_envelope('chat.session.closed', jsonb_build_object(
               'id', n.id, 'session_id', n.session_id, 'site_id', n.site_id, 'lead_id', n.lead_id,
               'started_at', n.started_at, 'ended_at', n.ended_at, 'message_count', n.message_count,
               'human_takeover', n.human_takeover, 'engagement_score', n.engagement_score,
               'score_band', n.score_band, 'page_url', n.page_url))
    from new_rows n
    join old_rows o on o.id = n.id
    join webhook_subscriptions s on s.account_id = n.account_id and s.enabled
        and 'chat.session.closed' = any(s.events)
    where o.ended_at is null and n.ended_at is not null
    order by n.id, s.id;
    if found then perform pg_notify('leadline_webhooks_out', ''); end if;
    return null;
end $$;
create trigger chat_sessions_webhooks_out after update on chat_sessions
    referencing old table as old_rows new table as new_rows
    for each statement execute function webhooks_out_chat_closed();

-- A sequence step is queued in the transaction that logs it as `sent` (automations::run).
create function webhooks_out_automation_sent() returns trigger language plpgsql as $$
begin
    perform 1 from webhook_subscriptions where enabled limit 1;
    if not found then return null; end if;
    insert into webhook_deliveries (account_id, subscription_id, event_type, lead_id, body)
    select n.account_id, s.id, 'automation.step.sent', n.lead_id,
           webhooks_out_envelope('automation.step.sent', jsonb_build_object(
               'id', n.id, 'sequence_id', n.sequence_id, 'sequence_name', q.name,
               'enrollment_id', n.enrollment_id, 'lead_id', n.lead_id, 'step', n.step,
               'outbox_id', n.outbox_id, 'at', n.at))
    from new_rows n
    left join sequences q on q.id = n.sequence_id
    join webhook_subscriptions s on s.account_id = n.account_id and s.enabled
        and 'automation.step.sent' = any(s.events)
    where n.outcome = 'sent'
    order by n.id, s.id;
    if found then perform pg_notify('leadline_webhooks_out', ''); end if;
    return null;
end $$;
create trigger automation_runs_webhooks_out after insert on automation_runs
    referencing new table as new_rows
    for each statement execute function webhooks_out_automation_sent();
