-- Team alerts: a new lead, a lead turned HOT, an inbound message no person answered in
-- time (and its escalation to the owners). One row per person and alert, made once
-- whichever replica sees it first (`dedupe_key`), read in the dashboard's bell.
create table alerts (
    id bigserial primary key,
    account_id bigint not null references accounts(id) on delete cascade,
    user_id bigint not null references users(id) on delete cascade,
    kind text not null check (kind in ('new_lead','hot_lead','unanswered','escalation')),
    lead_id bigint references leads(id) on delete cascade,
    communication_id bigint,
    message text not null,
    dedupe_key text not null,
    created_at timestamptz not null,
    read_at timestamptz,
    -- What else carried it: the outbox items of its email and text, if any.
    email_outbox_id bigint,
    sms_outbox_id bigint,
    unique (user_id, dedupe_key)
);
create index alerts_user_unread on alerts(user_id, id desc);

-- How each person wants alerts, and when not to be disturbed (local time of the account).
alter table users add column phone text check (phone like '+%');
alter table users add column alert_channels text[] not null default '{dashboard,email}';
alter table users add column mute_start time;
alter table users add column mute_end time;

-- The account's answer targets (minutes of open time): alert, then escalate to owners.
alter table accounts add column alert_first_minutes integer not null default 5 check (alert_first_minutes between 1 and 1440);
alter table accounts add column alert_escalate_minutes integer not null default 30 check (alert_escalate_minutes between 1 and 10080);
create index alerts_account_key on alerts(account_id, dedupe_key);
