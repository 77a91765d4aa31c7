-- What a channel received but could not store: kept with its raw bytes and the reason, so
-- nothing a provider sent is lost and one bad message never blocks the ones after it.
create table quarantine (
    id bigserial primary key,
    -- null when the receiving account is not known.
    account_id bigint references accounts(id) on delete cascade,
    -- imap, mailgun, sendgrid or telnyx.
    source text not null,
    -- The email integration it came through (imap, sendgrid, mailgun), when known.
    integration_id bigint references email_integrations(id) on delete set null,
    reason text not null,
    -- The message or request body exactly as received.
    raw bytea not null,
    -- Where it came from (folder, uid, uidvalidity, content type…): what a retry needs.
    context jsonb not null default '{}',
    -- SHA-256 of the message identity (or of raw): a message re-polled, redelivered or
    -- arriving by another path is quarantined once per account.
    digest bytea not null,
    created_at timestamptz not null default now(),
    attempts integer not null default 0,
    last_attempt_at timestamptz
);
create unique index quarantine_once on quarantine(coalesce(account_id, 0), digest);
create index quarantine_account on quarantine(account_id, created_at desc);

-- Other addresses of the mailbox (aliases the roofer declared) that route inbound mail to it.
alter table email_integrations add column aliases text[] not null default '{}';
create index email_integrations_aliases on email_integrations using gin (aliases) where is_active;

-- The SendGrid inbound token is a secret in a URL: only its SHA-256 (hex) is kept.
alter table email_integrations rename column inbound_token to inbound_token_hash;
update email_integrations
   set inbound_token_hash = encode(sha256(convert_to(inbound_token_hash, 'UTF8')), 'hex')
 where inbound_token_hash is not null;
