-- A number that changes whenever what an automatic answer reads from the account changes
-- (its name, settings with the company facts, time zone, opening hours). Servers keep
-- those in memory and check them against this number in a statement they make anyway,
-- so every replica sees a change on its next answer (src/accounts_cache.rs).
alter table accounts add column config_version bigint not null default 0;

create function leadline_account_config_version() returns trigger language plpgsql as $$
begin
    if new.name is distinct from old.name or new.settings is distinct from old.settings
       or new.timezone is distinct from old.timezone
       or new.business_hours is distinct from old.business_hours then
        new.config_version := old.config_version + 1;
    end if;
    return new;
end $$;

create trigger accounts_config_version before update on accounts
    for each row execute function leadline_account_config_version();
