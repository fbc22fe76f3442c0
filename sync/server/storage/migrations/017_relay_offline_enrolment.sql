-- Enrolment at a relay while its upstream is away (docs/sync-protocol.md, *Relays*): a code
-- the centre issued for a relay names it (`relay_id`), and the centre keeps the code's proof
-- key (sha256 of its secret under another label: never sent to the relay), with which it
-- checks that whoever passes an enrolment up saw the code itself. At the relay, `relay_id` is
-- set on the codes it took from the centre to check offline.
ALTER TABLE enrol_codes ADD COLUMN relay_id TEXT;
ALTER TABLE enrol_codes ADD COLUMN proof_key TEXT;
-- At a relay: the devices it enrolled while its upstream was away, until the upstream takes
-- (or refuses) each enrolment. `proof`: HMAC of the device id and key under the proof key.
CREATE TABLE relay_pending_enrolments (
    device_id TEXT PRIMARY KEY,
    code_hash TEXT NOT NULL,
    proof TEXT NOT NULL,
    enrolled_at {ts} NOT NULL
);
-- The relay a device enrolled through (at the centre: the relay that passed its enrolment
-- up; at a relay: the relay below it), NULL for a device that enrolled here directly: a
-- relay speaks for the roster entries of the devices enrolled through it only (they are not
-- signed by the device, as records are).
ALTER TABLE devices ADD COLUMN enrolled_via TEXT;
