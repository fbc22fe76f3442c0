-- The initial schema, for both backends. {ts}, {blob}, {bool}, {int8} and {identity} are
-- each backend's types (see sqlite.py and postgres.py); a statement ends with a semicolon at
-- the end of a line.
CREATE TABLE organisations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at {ts} NOT NULL,
    recipients TEXT NOT NULL
);
CREATE TABLE enrol_codes (
    code_hash TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    role TEXT NOT NULL,
    region TEXT,
    created_at {ts} NOT NULL,
    expires_at {ts} NOT NULL,
    device_id TEXT,
    redeemed_at {ts}
);
CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    role TEXT NOT NULL,
    region TEXT,
    public_key {blob} NOT NULL,
    label TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    enrolled_at {ts} NOT NULL,
    revoked_at {ts}
);
CREATE INDEX devices_by_org ON devices (org_id, enrolled_at);
CREATE TABLE server_keys (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    key_id TEXT NOT NULL,
    blob {blob} NOT NULL,
    created_at {ts} NOT NULL
);
CREATE TABLE forms (
    scope TEXT NOT NULL,
    form_id TEXT NOT NULL,
    version TEXT NOT NULL,
    org_id TEXT REFERENCES organisations (id),
    spec TEXT NOT NULL,
    published_at {ts} NOT NULL,
    seq {int8} NOT NULL,
    PRIMARY KEY (scope, form_id, version)
);
CREATE TABLE shared_items (
    org_id TEXT NOT NULL REFERENCES organisations (id),
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    region TEXT,
    data TEXT NOT NULL,
    updated_at {ts} NOT NULL,
    PRIMARY KEY (org_id, kind, key)
);
CREATE TABLE records (
    id TEXT NOT NULL,
    revision TEXT NOT NULL,
    base_revision TEXT,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    region TEXT,
    device_id TEXT NOT NULL,
    pushed_by TEXT NOT NULL,
    form_id TEXT NOT NULL,
    form_version TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    stats TEXT NOT NULL,
    sealed {blob},
    deleted {bool} NOT NULL,
    signature {blob} NOT NULL,
    content_digest TEXT NOT NULL,
    received_at {ts} NOT NULL,
    seq {int8} NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('current', 'conflict')),
    PRIMARY KEY (id, revision)
);
CREATE TABLE record_heads (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    form_id TEXT NOT NULL,
    head_revision TEXT NOT NULL,
    head_device_id TEXT NOT NULL,
    deleted {bool} NOT NULL,
    in_conflict {bool} NOT NULL
);
CREATE INDEX record_heads_by_org ON record_heads (org_id, form_id);
CREATE TABLE changes (
    seq {int8} PRIMARY KEY,
    org_id TEXT,
    region TEXT,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    deleted {bool} NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX changes_by_org ON changes (org_id, seq);
CREATE TABLE change_audience (
    device_id TEXT NOT NULL,
    seq {int8} NOT NULL,
    PRIMARY KEY (device_id, seq)
);
CREATE TABLE change_counter (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    value {int8} NOT NULL
);
INSERT INTO change_counter (id, value) VALUES (1, 0);
CREATE TABLE audit (
    id {identity},
    at {ts} NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    org_id TEXT,
    device_id TEXT,
    record_id TEXT
);
CREATE INDEX audit_by_org ON audit (org_id, id);
