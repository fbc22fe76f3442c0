-- A revision set aside when the office resolves a conflict becomes `superseded` (kept, like
-- everything else: nothing is ever deleted). SQLite cannot alter a CHECK constraint: the
-- records table is rebuilt with the wider one, the documented way
-- (sqlite.org/lang_altertable.html#otheralter), with the same columns in the same order.
CREATE TABLE records_v2 (
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
    sealed BLOB,
    deleted INTEGER NOT NULL,
    signature BLOB NOT NULL,
    content_digest TEXT NOT NULL,
    received_at TEXT NOT NULL,
    seq INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('current', 'conflict', 'superseded')),
    PRIMARY KEY (id, revision)
);
INSERT INTO records_v2 SELECT * FROM records;
DROP TABLE records;
ALTER TABLE records_v2 RENAME TO records;
