-- What the office's device list shows of each device: when the server last heard from it
-- (any push or pull), when it last pulled (a sync's last step), and what it said about itself
-- in its last sync's optional headers (records waiting to be sent, app version). NULL until
-- a device says so: an older app sends neither header, and keeps working.
ALTER TABLE devices ADD COLUMN last_seen_at {ts};
ALTER TABLE devices ADD COLUMN last_sync_at {ts};
ALTER TABLE devices ADD COLUMN records_waiting INTEGER;
ALTER TABLE devices ADD COLUMN app_version TEXT;
