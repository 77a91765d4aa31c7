-- Opening hours of the business: per weekday the open spans and the closed dates, in the
-- account's time zone (`accounts.timezone`, an IANA name). Null: open all week.
alter table accounts add column business_hours jsonb;
