-- A revision set aside when the office resolves a conflict becomes `superseded` (kept, like
-- everything else: nothing is ever deleted).
ALTER TABLE records DROP CONSTRAINT records_status_check;
ALTER TABLE records ADD CONSTRAINT records_status_check CHECK (status IN ('current', 'conflict', 'superseded'));
