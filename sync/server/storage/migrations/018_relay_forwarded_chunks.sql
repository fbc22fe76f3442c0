-- Attachments through relays: at a relay, when it passed a chunk on to its upstream (NULL:
-- not yet; always NULL at the centre). A chunk goes up once the revision naming it has.
ALTER TABLE attachment_chunks ADD COLUMN forwarded_at {ts};
