-- Team rosters through relays: each change keeps the device that wrote it (a roster entry's
-- writer; NULL for every other change and for changes written before this migration), so a
-- relay forwards upstream only the entries its own devices shared, never those it pulled.
ALTER TABLE changes ADD COLUMN author TEXT;
CREATE INDEX changes_by_org_kind ON changes (org_id, kind, seq);
