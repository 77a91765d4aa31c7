-- Integration health (GET /api/health/integrations) reads an account's recent AI replies,
-- Telnyx events and failed sends. These partial indexes keep those reads to the rows
-- they are about instead of scanning every account's communications, events or outbox.
create index communications_ai_replies on communications (account_id, "timestamp") where ai_generated;
create index webhook_events_account_received on webhook_events (account_id, received_at) where account_id is not null;
create index outbox_account_failed on outbox (account_id, updated_at) where status = 'failed';
