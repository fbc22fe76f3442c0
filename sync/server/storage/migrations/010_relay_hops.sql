-- Relays (regional offices): each stored revision keeps the relays it came through, as the
-- JSON list the last relay pushed (`[{"node": <relay device id>, "received_at": ...}]`, the
-- relay nearest the device first); NULL for a revision a device pushed itself.
ALTER TABLE records ADD COLUMN hops TEXT;
-- A relay forwards its revisions in the order it stored them, after a cursor.
CREATE INDEX records_by_org_seq ON records (org_id, seq);
