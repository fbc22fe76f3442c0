-- Referrals between organisations (issue #14): the directory of the services each
-- organisation takes referrals for, published to every enrolled device with the
-- organisation's public keys; and each referral of a record of one organisation to a service
-- of another. `sealed` is the referral form's fields sealed to the receiver's keys (the server
-- cannot open it; NULL once the survivor's consent was withdrawn); `digest` is the sha256 of
-- the request, so sending a referral again is harmless and a different one under its id is
-- refused. A decline's reason is a code, never free text.
CREATE TABLE directory_services (
    org_id TEXT NOT NULL REFERENCES organisations (id),
    service TEXT NOT NULL,
    label TEXT NOT NULL,
    updated_at {ts} NOT NULL,
    PRIMARY KEY (org_id, service)
);
CREATE TABLE referrals (
    id TEXT PRIMARY KEY,
    from_org TEXT NOT NULL REFERENCES organisations (id),
    to_org TEXT NOT NULL REFERENCES organisations (id),
    service TEXT NOT NULL,
    record_id TEXT NOT NULL,
    sent_by TEXT NOT NULL,
    sealed {blob},
    digest TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('sent', 'accepted', 'declined', 'delivered', 'withdrawn')),
    reason TEXT,
    sent_at {ts} NOT NULL,
    updated_at {ts} NOT NULL
);
CREATE INDEX referrals_from ON referrals (from_org, sent_at);
CREATE INDEX referrals_to ON referrals (to_org, sent_at);
CREATE INDEX referrals_record ON referrals (record_id);
