-- Files attached to form versions (the CSVs of select_one_from_file and pulldata), by scope
-- (an organisation's id, '' for a global form) and SHA-256: a file two versions share is
-- stored, and fetched by a device, once.
CREATE TABLE form_files (
    scope TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size {int8} NOT NULL,
    content {blob} NOT NULL,
    PRIMARY KEY (scope, sha256)
);
