-- CSV imports (src/imports/). A lead an import created carries when it was imported:
-- the live "new lead" flow (new-lead and HOT alerts, sequence triggers) skips such a
-- lead until something happens to it after the import, so bringing in a spreadsheet of
-- old leads never pages the team or texts old customers. A flag column rather than
-- `source = 'import'`: the file may carry its own source ("Angi", "Referral"), and the
-- source a lead came from is the roofer's to set, not the import's marker.
alter table leads add column imported_at timestamptz;
-- Free-form notes (a spreadsheet's "Notes" column): kept on the lead, not made into a
-- communication, since no one said them to or heard them from the lead.
alter table leads add column notes text;
