-- The data collaborative's hub (`fieldapp serve --hub`). Members are organisations' Ed25519
-- keys (base64) the steward admitted; `consent` is their last signed consent statement, as
-- JSON, kept as signed. Contributions are sealed (HPKE) to the steward's key: the hub cannot
-- read them; a later one for the same period replaces the earlier. A release keeps its
-- published tables (hidden cells null) in clear, its true counts sealed to the steward's key
-- (for the next release's differencing check), which members it counted, and which of those
-- have withdrawn since.
CREATE TABLE hub_members (
    org_key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    sharing {bool} NOT NULL,
    consent TEXT,
    admitted_at {ts} NOT NULL
);
CREATE TABLE hub_contributions (
    org_key TEXT NOT NULL REFERENCES hub_members (org_key),
    period TEXT NOT NULL,
    sealed {blob} NOT NULL,
    received_at {ts} NOT NULL,
    PRIMARY KEY (org_key, period)
);
CREATE TABLE hub_releases (
    period TEXT NOT NULL,
    version INTEGER NOT NULL,
    tables TEXT NOT NULL,
    contributors TEXT NOT NULL,
    signature {blob} NOT NULL,
    sealed_counts {blob} NOT NULL,
    withdrawn TEXT NOT NULL,
    published_at {ts} NOT NULL,
    PRIMARY KEY (period, version)
);
