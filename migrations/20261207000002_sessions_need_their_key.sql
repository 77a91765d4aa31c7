-- Sessions opened before sessions remembered their key could never end by revoking it:
-- they end now (their users sign in again), and every session names its key from here on.
delete from dashboard_sessions where api_key_id is null;
alter table dashboard_sessions alter column api_key_id set not null;
