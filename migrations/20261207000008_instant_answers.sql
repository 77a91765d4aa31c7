-- Whether a new lead's first text gets an automatic answer at once (automations/instant.rs).
alter table accounts add column instant_answers boolean not null default false;
