-- Lead sources of an account (web forms, ad lead forms, marketplaces, generic JSON
-- intake): each with a public token for its URL, its settings, and one sealed secret
-- (Google's google_key, a Facebook page token, a shared secret) that is never returned.
create table lead_sources (
    id bigserial primary key,
    account_id bigint not null references accounts(id) on delete cascade,
    kind text not null check (kind in ('web_form','google_ads','facebook','generic','homeadvisor','angi')),
    name text not null check (length(name) between 1 and 200),
    token text not null unique,
    config jsonb not null default '{}' check (jsonb_typeof(config) = 'object'),
    secret_ciphertext bytea,
    secret_nonce bytea,
    secret_key_id text,
    -- The Facebook page whose leads this source receives (one account per page).
    page_id text,
    enabled boolean not null default true,
    -- Submissions that filled the honeypot: answered as success, recorded nowhere else.
    spam_count bigint not null default 0,
    leads_count bigint not null default 0,
    last_lead_at timestamptz,
    -- The last failure of the source (a Graph error…); cleared by the next success.
    last_error text,
    last_error_code integer,
    last_error_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now()
);
create index lead_sources_account on lead_sources(account_id, id);
create unique index lead_sources_facebook_page on lead_sources(page_id) where kind = 'facebook';

-- Facebook leadgen notifications, stored before the webhook is acknowledged and fetched
-- from the Graph API afterwards: nothing is lost when the fetch fails (an expired token
-- keeps them here until the token is fixed).
create table facebook_leads (
    id bigserial primary key,
    account_id bigint not null references accounts(id) on delete cascade,
    source_id bigint not null references lead_sources(id) on delete cascade,
    leadgen_id text not null,
    notification jsonb not null,
    status text not null default 'pending' check (status in ('pending','done')),
    attempts integer not null default 0,
    next_attempt_at timestamptz not null default now(),
    last_error text,
    communication_id bigint,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (account_id, leadgen_id)
);
create index facebook_leads_due on facebook_leads(next_attempt_at) where status = 'pending';
create index facebook_leads_source on facebook_leads(source_id) where status = 'pending';
