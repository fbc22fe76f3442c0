-- The change log's pages walk indexes in seq order (keyset pagination): a device that is not
-- organisation-wide reads its records and reviews from its own change_audience rows, and the
-- rest (forms, shared items, revocations, rosters) from this index, which leaves out the
-- organisation's record and review changes that it would otherwise have to step over.
CREATE INDEX changes_shared_by_org ON changes (org_id, seq) WHERE kind NOT IN ('record', 'review');
