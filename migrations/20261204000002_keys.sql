-- API keys get a name (what they are for), and a dashboard session remembers the key it
-- was opened with: revoking that key ends the session.
alter table api_keys add column name text;
alter table dashboard_sessions add column api_key_id bigint references api_keys(id) on delete cascade;
