-- The whole product's schema. Forward-only: later changes go in new migrations.
-- Enumerations are text with CHECK constraints (easy to extend in a later migration).

create table accounts (
    id bigserial primary key,
    name text not null check (length(name) between 1 and 200),
    timezone text not null default 'UTC',
    settings jsonb not null default '{}'::jsonb,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table api_keys (
    id bigserial primary key,
    account_id bigint not null references accounts(id) on delete cascade,
    -- SHA-256 of the whole key; the key itself is shown once and never stored.
    key_hash bytea not null unique,
    prefix text not null,
    created_at timestamptz not null default now(),
    last_used_at timestamptz,
    revoked_at timestamptz
);
create index api_keys_account on api_keys(account_id);

create table leads (
    id bigserial primary key,
    account_id bigint not null references accounts(id) on delete cascade,
    name text,
    email text check (email = lower(email)),
    phone text check (phone like '+%'),
    property_address text,
    roof_age_years integer check (roof_age_years between 0 and 200),
    issues text[] not null default '{}',
    timeline text,
    budget text,
    source text,
    status text not null default 'new'
        check (status in ('new','contacted','inspection_scheduled','inspected','quoted','won','lost')),
    score integer not null default 50 check (score between 0 and 100),
    score_band text not null default 'COLD' check (score_band in ('HOT','WARM','COLD')),
    score_breakdown jsonb not null default '[]'::jsonb,
    -- Tracker output cached on the row (engagement, next action) so lists never recompute.
    insights jsonb not null default '{}'::jsonb,
    sms_opted_out_at timestamptz,
    sms_opt_out_message_id text,
    last_activity_at timestamptz not null default now(),
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create unique index leads_account_email on leads(account_id, email) where email is not null;
create unique index leads_account_phone on leads(account_id, phone) where phone is not null;
create index leads_account_activity on leads(account_id, last_activity_at desc, id desc);
create index leads_account_band on leads(account_id, score_band);

create table communications (
    id bigserial primary key,
    account_id bigint not null references accounts(id) on delete cascade,
    lead_id bigint not null references leads(id) on delete cascade,
    type text not null check (type in ('email','sms','phone_call','chat')),
    direction text not null check (direction in ('inbound','outbound')),
    "timestamp" timestamptz not null default now(),
    from_address text,
    to_address text,
    subject text,
    content text,
    metadata jsonb not null default '{}'::jsonb,
    status text,
    duration integer check (duration >= 0),
    attachments jsonb not null default '[]'::jsonb,
    ai_generated boolean not null default false,
    sentiment text check (sentiment in ('positive','neutral','negative')),
    sentiment_score real check (sentiment_score between -1 and 1),
    tags text[] not null default '{}',
    provider text,
    provider_message_id text,
    thread_key text,
    created_at timestamptz not null default now()
);
create unique index communications_provider_message
    on communications(account_id, type, provider_message_id);
create index communications_lead_time on communications(lead_id, "timestamp", id);
create index communications_account_time on communications(account_id, "timestamp");
create index communications_type on communications(type);
create index communications_thread on communications(account_id, thread_key) where thread_key is not null;

create table email_integrations (
    id bigserial primary key,
    account_id bigint not null references accounts(id) on delete cascade,
    email text not null,
    username text not null,
    encrypted_password bytea,
    password_nonce bytea,
    key_id text,
    imap_host text not null,
    imap_port integer not null check (imap_port between 1 and 65535),
    imap_security text not null check (imap_security in ('tls','starttls','none')),
    smtp_host text not null,
    smtp_port integer not null check (smtp_port between 1 and 65535),
    smtp_security text not null check (smtp_security in ('tls','starttls','none')),
    folders text[] not null default '{INBOX}',
    backfill_days integer not null default 30,
    auto_respond boolean not null default true,
    is_active boolean not null default true,
    last_sync timestamptz,
    last_error text,
    last_error_at timestamptz,
    consecutive_failures integer not null default 0,
    next_sync_at timestamptz,
    messages_synced bigint not null default 0,
    inbound_token text unique,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create unique index email_integrations_account_email on email_integrations(account_id, lower(email));

create table imap_sync_state (
    integration_id bigint not null references email_integrations(id) on delete cascade,
    folder text not null,
    uidvalidity bigint,
    last_uid bigint not null default 0,
    last_sync timestamptz,
    primary key (integration_id, folder)
);

create table attachments (
    sha256 bytea primary key,
    content_type text,
    size bigint not null,
    content bytea not null,
    created_at timestamptz not null default now()
);

create table sites (
    id bigserial primary key,
    account_id bigint not null references accounts(id) on delete cascade,
    name text not null,
    site_key text not null unique,
    allowed_origins text[] not null default '{}',
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index sites_account on sites(account_id);

create table widget_settings (
    id bigserial primary key,
    account_id bigint not null references accounts(id) on delete cascade,
    site_id bigint not null unique references sites(id) on delete cascade,
    company_name text,
    color_theme text not null default '#1f6feb' check (color_theme ~ '^#[0-9A-Fa-f]{6}$'),
    position text not null default 'bottom-right' check (position in ('bottom-right','bottom-left')),
    greeting_message text,
    settings jsonb not null default '{}'::jsonb,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table chat_sessions (
    id bigserial primary key,
    account_id bigint not null references accounts(id) on delete cascade,
    site_id bigint references sites(id) on delete set null,
    session_id text not null unique,
    token_hash bytea unique,
    lead_id bigint references leads(id) on delete set null,
    visitor_id text,
    visitor_ip text,
    visitor_location text,
    page_url text,
    referrer text,
    started_at timestamptz not null default now(),
    ended_at timestamptz,
    last_message_at timestamptz,
    message_count integer not null default 0,
    human_takeover boolean not null default false,
    lead_data jsonb not null default '{}'::jsonb,
    engagement_score integer,
    score_band text check (score_band in ('HOT','WARM','COLD')),
    created_at timestamptz not null default now()
);
create index chat_sessions_account on chat_sessions(account_id, started_at desc);

create table sms_integrations (
    id bigserial primary key,
    account_id bigint not null unique references accounts(id) on delete cascade,
    encrypted_api_key bytea not null,
    api_key_nonce bytea not null,
    key_id text not null,
    messaging_profile_id text,
    webhook_public_key text,
    quiet_hours jsonb,
    missed_call_text_back boolean not null default false,
    is_active boolean not null default true,
    last_error text,
    last_error_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);

create table sms_numbers (
    phone_number text primary key check (phone_number like '+%'),
    account_id bigint not null references accounts(id) on delete cascade,
    integration_id bigint not null references sms_integrations(id) on delete cascade,
    created_at timestamptz not null default now()
);

create table outbox (
    id bigserial primary key,
    account_id bigint not null references accounts(id) on delete cascade,
    kind text not null,
    payload jsonb not null,
    status text not null default 'pending'
        check (status in ('pending','in_progress','sent','failed','held')),
    attempts integer not null default 0,
    next_attempt_at timestamptz not null default now(),
    last_error text,
    idempotency_key text,
    communication_id bigint references communications(id) on delete set null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create unique index outbox_idempotency on outbox(account_id, idempotency_key) where idempotency_key is not null;
create index outbox_due on outbox(next_attempt_at) where status in ('pending','in_progress');

create table webhook_events (
    id bigserial primary key,
    provider text not null,
    event_id text not null,
    account_id bigint references accounts(id) on delete cascade,
    event_type text,
    payload jsonb not null,
    received_at timestamptz not null default now(),
    processed_at timestamptz,
    unique (provider, event_id)
);
