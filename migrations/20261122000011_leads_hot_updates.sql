-- Every recorded touch updates its lead (activity time, score, insights). Keeping the
-- columns that change on every touch out of indexes, and leaving free space in each page,
-- lets PostgreSQL apply those updates in place (HOT) without touching any index.
-- Listing an account's leads by activity then sorts in memory, which stays cheap at the
-- size of one roofer's lead list.
drop index leads_account_activity;
create index leads_account on leads(account_id);
alter table leads set (fillfactor = 70);
