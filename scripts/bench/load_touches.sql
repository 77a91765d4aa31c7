-- The profile endpoint's main query (src/tracker/store.rs load_touches, no limit), psql variable :lead.
select id, "timestamp", type, direction, sentiment, sentiment_score, ai_generated, duration
from communications where lead_id = :lead
order by "timestamp" desc, id desc limit null;
