-- Follow-up sequences (automations as data: a trigger and steps, JSON checked on save by
-- src/automations/model.rs), who is enrolled and where they stand, and what happened.
create table sequences (
    id bigserial primary key,
    account_id bigint not null references accounts(id) on delete cascade,
    -- The ready-made sequences an account starts with (`new_lead`, `quote`, `nurture`,
    -- `review`); null for the account's own.
    key text,
    name text not null,
    enabled boolean not null default false,
    -- When it was last turned on: triggers look only at what happened since.
    enabled_at timestamptz,
    trigger jsonb not null,
    steps jsonb not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (account_id, key),
    unique (account_id, name)
);

create table sequence_enrollments (
    id bigserial primary key,
    account_id bigint not null references accounts(id) on delete cascade,
    sequence_id bigint not null references sequences(id) on delete cascade,
    lead_id bigint not null references leads(id) on delete cascade,
    status text not null default 'active' check (status in ('active','completed','exited')),
    -- The next step to send (0-based) and when.
    step integer not null default 0,
    next_run_at timestamptz not null,
    enrolled_at timestamptz not null,
    exit_reason text,
    updated_at timestamptz not null default now(),
    -- A lead goes through a sequence once (a review request is never sent twice).
    unique (sequence_id, lead_id)
);
create index sequence_enrollments_due on sequence_enrollments(next_run_at) where status = 'active';
create index sequence_enrollments_lead on sequence_enrollments(lead_id);

create table automation_runs (
    id bigserial primary key,
    account_id bigint not null references accounts(id) on delete cascade,
    at timestamptz not null,
    sequence_id bigint references sequences(id) on delete set null,
    enrollment_id bigint references sequence_enrollments(id) on delete set null,
    lead_id bigint references leads(id) on delete cascade,
    step integer,
    -- enrolled, sent, waiting, exited, completed, failed
    outcome text not null,
    detail text,
    outbox_id bigint
);
create index automation_runs_account on automation_runs(account_id, id desc);
create index automation_runs_lead on automation_runs(lead_id, id);
create index leads_account_created on leads(account_id, created_at);
