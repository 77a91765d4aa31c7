-- Sign-in sessions of the dashboard. The browser holds a random token in an HttpOnly
-- cookie; only its SHA-256 is stored (a database leak does not hand out sessions), and
-- the API key a roofer signed in with is never kept anywhere.
create table dashboard_sessions (
    id bigserial primary key,
    token_hash bytea not null unique,
    account_id bigint not null references accounts(id) on delete cascade,
    -- Sent back in every form and in the X-CSRF-Token header of the dashboard's API calls.
    csrf_token text not null,
    created_at timestamptz not null default now(),
    last_seen_at timestamptz not null default now(),
    -- Absolute end (12 h after sign-in); the idle limit (2 h) is checked on last_seen_at.
    expires_at timestamptz not null
);
create index dashboard_sessions_account on dashboard_sessions(account_id);
create index dashboard_sessions_expires on dashboard_sessions(expires_at);
