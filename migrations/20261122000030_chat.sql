-- Website chat: what the session API needs beyond the base schema.

-- Per-session message rate window (checked and bumped in the same statement that
-- authenticates the session token, so the limit holds across replicas).
alter table chat_sessions
    add column rate_window_start timestamptz not null default now(),
    add column rate_count integer not null default 0,
    add column contact_captured boolean not null default false,
    add column updated_at timestamptz not null default now();

-- New sessions per IP per hour are counted here.
create index chat_sessions_ip_started on chat_sessions(visitor_ip, started_at);
-- The roofer's list: open sessions first, newest activity first.
create index chat_sessions_account_activity on chat_sessions(account_id, last_message_at desc nulls last, id desc);
-- CORS preflights ask "is this origin allowed by any site?".
create index sites_allowed_origins on sites using gin (allowed_origins);
