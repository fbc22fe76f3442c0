-- The office's list of records and their review (ODK Central's states: received, has_issues,
-- edited, approved, rejected). A record's head keeps the seq and receipt time of its head
-- revision (the list's order, newest first, and its keyset cursor), and its review state;
-- every review is kept in `record_reviews` (who, when, which revision, the comment).
ALTER TABLE record_heads ADD COLUMN head_seq {int8};
ALTER TABLE record_heads ADD COLUMN head_received_at {ts};
ALTER TABLE record_heads ADD COLUMN review_state TEXT NOT NULL DEFAULT 'received';
UPDATE record_heads SET
    head_seq = (SELECT r.seq FROM records r WHERE r.id = record_heads.id
                AND r.revision = record_heads.head_revision),
    head_received_at = (SELECT r.received_at FROM records r WHERE r.id = record_heads.id
                        AND r.revision = record_heads.head_revision);
CREATE INDEX record_heads_office ON record_heads (org_id, head_seq);
CREATE INDEX record_heads_office_form ON record_heads (org_id, form_id, head_seq);
CREATE INDEX record_heads_office_region ON record_heads (org_id, owner_region, head_seq);
CREATE TABLE record_reviews (
    id {identity},
    record_id TEXT NOT NULL,
    org_id TEXT NOT NULL REFERENCES organisations (id),
    revision TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('received', 'has_issues', 'edited', 'approved', 'rejected')),
    comment TEXT,
    actor TEXT NOT NULL,
    at {ts} NOT NULL
);
CREATE INDEX record_reviews_by_record ON record_reviews (record_id, id);
