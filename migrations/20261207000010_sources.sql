-- Lead sources: web forms, ad lead forms and marketplaces are recorded as communications
-- of type 'form'; every lead keeps its first source and campaign.
alter table communications drop constraint communications_type_check;
alter table communications add constraint communications_type_check
    check (type in ('email','sms','phone_call','chat','form'));

alter table leads
    add column campaign text,
    -- How the lead first came: utm_*, referrer, landing page, gclid/fbclid, ad and form ids.
    add column attribution jsonb not null default '{}'::jsonb;
