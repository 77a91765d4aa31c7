-- Account stats read every touch of the account in a time range, but only these columns:
-- a covering index makes that an index-only scan (~60 bytes a touch instead of the whole
-- row with its content). It serves every (account_id, "timestamp") lookup the old index did.
create index communications_account_stats on communications (account_id, "timestamp")
    include (type, direction, ai_generated, answered, run_start, reply_at);
drop index communications_account_time;
