-- A failed key check looks up which account's key it was aimed at (by its prefix).
create index api_keys_prefix on api_keys(prefix);
