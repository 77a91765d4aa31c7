-- Message templates with variables (checked when saved: src/message_templates).
create table message_templates (
    id bigserial primary key,
    account_id bigint not null references accounts(id) on delete cascade,
    name text not null,
    -- Which messages it is for: sms, email, or any.
    channel text not null default 'any' check (channel in ('sms','email','any')),
    subject text,
    body text not null,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    unique (account_id, name)
);
