-- A record belongs to the signer of its first revision, in that revision's region
-- (`auth.may_write`), kept on its head, filled in for the records stored before; a team roster
-- entry to the device that first stored it (unknown for entries stored before: NULL). Every
-- new record and entry writes them, so a push needs this migration (the app and the admin
-- CLI migrate before they serve).
ALTER TABLE record_heads ADD COLUMN owner_device_id TEXT;
ALTER TABLE record_heads ADD COLUMN owner_region TEXT;
UPDATE record_heads SET
    owner_device_id = (SELECT r.device_id FROM records r WHERE r.id = record_heads.id
                       ORDER BY r.seq LIMIT 1),
    owner_region = (SELECT r.region FROM records r WHERE r.id = record_heads.id
                    ORDER BY r.seq LIMIT 1);
ALTER TABLE shared_items ADD COLUMN owner_device_id TEXT;
