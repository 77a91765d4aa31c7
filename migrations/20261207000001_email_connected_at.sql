-- When the mailbox was last connected (a reconnection after a disconnect, or another
-- mailbox, starts anew): mail from before it is never auto-answered.
alter table email_integrations add column connected_at timestamptz;
update email_integrations set connected_at = created_at;
alter table email_integrations alter column connected_at set not null, alter column connected_at set default now();
