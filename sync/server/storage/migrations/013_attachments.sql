-- Attachments (photos, signatures, files): each revision keeps the clear manifest its device
-- signed (`AttachmentRef` JSON list; NULL for a revision without attachments), and which
-- chunks it names, so a chunk is accepted only if a record of the organisation names it and a
-- record is complete once every chunk its head names is stored.
ALTER TABLE records ADD COLUMN attachments TEXT;
CREATE TABLE record_chunks (
    org_id TEXT NOT NULL,
    record_id TEXT NOT NULL,
    revision TEXT NOT NULL,
    digest TEXT NOT NULL,
    PRIMARY KEY (record_id, revision, digest)
);
CREATE INDEX record_chunks_by_digest ON record_chunks (org_id, digest);
-- The ciphertext chunks, content-addressed within an organisation: stored once however many
-- times they are sent. The server holds no key that opens them.
CREATE TABLE attachment_chunks (
    org_id TEXT NOT NULL,
    digest TEXT NOT NULL,
    data {blob} NOT NULL,
    stored_at {ts} NOT NULL,
    PRIMARY KEY (org_id, digest)
);
