-- The outbox says how far an item got, so a lease that expires is reclaimed correctly:
--   claimed  : taken by a worker, the provider not called yet  -> retried when abandoned
--   sending  : the provider call started, no answer recorded    -> 'unknown' when abandoned
--   accepted : the provider accepted it (provider_message_id)   -> only the record is redone
--   unknown  : it may or may not have reached the provider; shown, "send again" by hand.
alter table outbox drop constraint outbox_status_check;
update outbox set status = 'unknown',
    last_error = coalesce(last_error, 'the outcome of the last attempt is unknown')
    where status = 'in_progress';
alter table outbox add constraint outbox_status_check
    check (status in ('pending','held','claimed','sending','accepted','sent','failed','unknown'));
alter table outbox add column provider_message_id text;
drop index outbox_due;
create index outbox_due on outbox(account_id, next_attempt_at, id)
    where status in ('pending','held','claimed','sending','accepted');
create index outbox_attention on outbox(account_id, updated_at desc)
    where status in ('failed','unknown');
