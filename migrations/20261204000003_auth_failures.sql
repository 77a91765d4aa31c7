-- Failed sign-ins and API-key checks per client, kept in PostgreSQL so the limit holds
-- across replicas. A row exists only for a client that failed recently.
create table auth_failures (
    -- "ip:<address>" (later also "user:<id>").
    client text primary key,
    failures integer not null,
    first_at timestamptz not null,
    blocked_until timestamptz
);

-- Fixed-window request counters of public endpoints (per chat session…), atomic per hit.
create table rate_counters (
    key text primary key,
    window_start timestamptz not null,
    hits integer not null
);
create index rate_counters_window on rate_counters(window_start);
