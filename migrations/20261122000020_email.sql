-- Email channel: sync leases (one server syncs a mailbox at a time), the auto-reply
-- cooldown ledger, and per-message sync bookkeeping.
alter table email_integrations
    add column sync_lease_until timestamptz,
    add column messages_fetched bigint not null default 0;

create index email_integrations_due on email_integrations(next_sync_at) where is_active;

-- One row per automatic reply queued: the cooldown check and the insert happen in one
-- statement, so two concurrent inbound messages never both get an auto-reply.
create table email_auto_replies (
    id bigserial primary key,
    account_id bigint not null references accounts(id) on delete cascade,
    lead_id bigint not null references leads(id) on delete cascade,
    communication_id bigint references communications(id) on delete set null,
    outbox_id bigint,
    created_at timestamptz not null default now()
);
create index email_auto_replies_lead on email_auto_replies(account_id, lead_id, created_at desc);
