-- Every server caches which account a Telnyx number belongs to (`telnyx::numbers`): any
-- change to the numbers, or to an integration's webhook key, tells them all to forget.
create function leadline_sms_numbers_changed() returns trigger language plpgsql as $$
begin
    perform pg_notify('leadline_sms_numbers', '');
    return null;
end
$$;

create trigger sms_numbers_changed
    after insert or update or delete or truncate on sms_numbers
    for each statement execute function leadline_sms_numbers_changed();

create trigger sms_integrations_key_changed
    after insert or update of webhook_public_key or delete or truncate on sms_integrations
    for each statement execute function leadline_sms_numbers_changed();
