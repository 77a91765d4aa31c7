-- SMS and calls: find stored Telnyx events by the message or call they are about
-- (delivery statuses that arrive before the send is recorded; call events folded per session).
create index webhook_events_telnyx_message
    on webhook_events ((payload->'data'->'payload'->>'id'))
    where provider = 'telnyx' and event_type in ('message.sent', 'message.finalized');
create index webhook_events_telnyx_call_session
    on webhook_events ((payload->'data'->'payload'->>'call_session_id'))
    where provider = 'telnyx';
