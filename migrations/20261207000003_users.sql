-- People of a roofing company: users with roles, invitations and resets, two-factor,
-- dashboard sessions tied to a user, lead assignment, and the audit log.

create table users (
    id bigserial primary key,
    account_id bigint not null references accounts(id) on delete cascade,
    email text not null check (email = lower(email) and email like '%@%'),
    name text not null default '',
    role text not null check (role in ('owner','admin','member')),
    -- Argon2id PHC string; null until the person sets a password through their link.
    password_hash text,
    password_changed_at timestamptz,
    -- TOTP secret, sealed with the master key (crypto::SecretBox); on when enabled_at is set.
    totp_secret bytea,
    totp_nonce bytea,
    totp_key_id text,
    totp_enabled_at timestamptz,
    -- The last 30-second step a code was accepted for: a code is never accepted twice.
    totp_last_step bigint,
    created_at timestamptz not null default now(),
    last_sign_in_at timestamptz,
    disabled_at timestamptz,
    unique (account_id, email),
    -- Lets other tables name "a user of this account" with one foreign key.
    unique (account_id, id)
);
create index users_email on users(email);

-- Single-use links: invitation (and first-owner setup) and password reset. Only the
-- token's SHA-256 is kept.
create table user_tokens (
    id bigserial primary key,
    account_id bigint not null references accounts(id) on delete cascade,
    user_id bigint not null references users(id) on delete cascade,
    purpose text not null check (purpose in ('invite','reset')),
    token_hash bytea not null unique,
    expires_at timestamptz not null,
    used_at timestamptz,
    created_by bigint references users(id) on delete set null,
    created_at timestamptz not null default now()
);
create index user_tokens_user on user_tokens(user_id);

create table recovery_codes (
    id bigserial primary key,
    user_id bigint not null references users(id) on delete cascade,
    code_hash bytea not null,
    used_at timestamptz
);
create index recovery_codes_user on recovery_codes(user_id);

-- A password that was right, waiting for its second factor (5 minutes, 5 tries).
create table sign_in_challenges (
    id bigserial primary key,
    token_hash bytea not null unique,
    user_id bigint not null references users(id) on delete cascade,
    attempts integer not null default 0,
    expires_at timestamptz not null
);

alter table accounts add column require_totp boolean not null default false;

-- A session is opened either with an API key (developers) or by a user.
alter table dashboard_sessions alter column api_key_id drop not null;
alter table dashboard_sessions add column user_id bigint references users(id) on delete cascade;
alter table dashboard_sessions add constraint dashboard_sessions_key_or_user
    check ((api_key_id is null) <> (user_id is null));
create index dashboard_sessions_user on dashboard_sessions(user_id);

-- Who a lead is assigned to, and the account's rule for new leads.
alter table leads add column assigned_user_id bigint;
alter table leads add constraint leads_assigned_user
    foreign key (account_id, assigned_user_id) references users(account_id, id) on delete set null (assigned_user_id);
-- Not on last_activity_at: every touch updates it, and updates stay HOT only while no
-- index holds a column they change (migration 20261122000011).
create index leads_account_assigned on leads(account_id, assigned_user_id);

create table lead_assignment (
    account_id bigint primary key references accounts(id) on delete cascade,
    rule text not null default 'nobody' check (rule in ('nobody','one','round_robin')),
    user_id bigint,
    -- How many leads round robin has handed out: the next goes to member turn % n.
    turn bigint not null default 0,
    foreign key (account_id, user_id) references users(account_id, id) on delete set null (user_id)
);
create table lead_assignment_members (
    account_id bigint not null references lead_assignment(account_id) on delete cascade,
    user_id bigint not null,
    primary key (account_id, user_id),
    foreign key (account_id, user_id) references users(account_id, id) on delete cascade
);

-- Every new lead, whichever path created it (the writer, chat, the API, imports), is
-- assigned by its account's rule. After insert, so an insert that ON CONFLICT skipped
-- takes no turn; the row lock on lead_assignment makes turns fair across connections
-- and replicas (each turn is taken by exactly one committed lead, or rolled back with it).
create function assign_new_lead() returns trigger language plpgsql as $$
declare
    r lead_assignment%rowtype;
    n bigint;
    chosen bigint;
begin
    if new.assigned_user_id is not null then
        return null;
    end if;
    select * into r from lead_assignment where account_id = new.account_id;
    if not found or r.rule = 'nobody' then
        return null;
    end if;
    if r.rule = 'one' then
        select u.id into chosen from users u
        where u.account_id = new.account_id and u.id = r.user_id and u.disabled_at is null;
    else
        -- Take the turn first: the row lock queues every concurrent new lead of the account.
        update lead_assignment set turn = turn + 1
        where account_id = new.account_id returning turn - 1 into r.turn;
        select count(*) into n from lead_assignment_members m
            join users u on u.account_id = m.account_id and u.id = m.user_id
        where m.account_id = new.account_id and u.disabled_at is null;
        if n = 0 then
            return null;
        end if;
        select m.user_id into chosen from lead_assignment_members m
            join users u on u.account_id = m.account_id and u.id = m.user_id
        where m.account_id = new.account_id and u.disabled_at is null
        order by m.user_id offset (r.turn % n) limit 1;
    end if;
    if chosen is not null then
        update leads set assigned_user_id = chosen where id = new.id;
    end if;
    return null;
end $$;
create trigger leads_assign after insert on leads
    for each row execute function assign_new_lead();

-- Who did what, when, from where.
create table audit_log (
    id bigserial primary key,
    account_id bigint not null references accounts(id) on delete cascade,
    at timestamptz not null default now(),
    user_id bigint references users(id) on delete set null,
    api_key_id bigint references api_keys(id) on delete set null,
    -- The actor as it was then (an email or a key prefix): kept when the user goes.
    actor text not null,
    action text not null,
    target text,
    details jsonb not null default '{}'::jsonb,
    ip text
);
create index audit_log_account on audit_log(account_id, id desc);

-- Which person of the team answered a chat.
alter table chat_sessions add column human_takeover_by bigint references users(id) on delete set null;
