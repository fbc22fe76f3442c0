-- Duplicate detection without decrypting: an enrolment code may carry the organisation's
-- match key, wrapped by the code itself; each stored revision keeps the keyed digests its
-- device computed of a person's normalised identifiers (the record's own person, subject '',
-- or a repeat instance such as a training participant, subject its `_id`); the office's
-- decisions on candidate pairs are kept, and a merged record names the record it duplicates
-- (kept, never deleted).
ALTER TABLE enrol_codes ADD COLUMN wrapped_match_key {blob};
CREATE TABLE record_match_keys (
    org_id TEXT NOT NULL REFERENCES organisations (id),
    record_id TEXT NOT NULL,
    revision TEXT NOT NULL,
    subject TEXT NOT NULL,
    kind TEXT NOT NULL,
    digest TEXT NOT NULL,
    PRIMARY KEY (record_id, revision, subject, kind)
);
CREATE INDEX record_match_keys_digest ON record_match_keys (org_id, kind, digest);
CREATE TABLE match_decisions (
    org_id TEXT NOT NULL REFERENCES organisations (id),
    pair TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('merged', 'dismissed', 'confirmed', 'rejected')),
    kept TEXT,
    actor TEXT NOT NULL,
    at {ts} NOT NULL,
    PRIMARY KEY (org_id, pair)
);
ALTER TABLE record_heads ADD COLUMN duplicate_of TEXT;
