-- A revision may be a consent withdrawal (kept as signed), and a record whose consent was
-- withdrawn is marked on its head: it never takes sealed content again. Only a withdrawal
-- writes these columns (other writes are as before), and reads go through `withdrawn()`
-- (tx.py), so a database made by an older schema works until it is migrated.
ALTER TABLE records ADD COLUMN consent_withdrawn {bool} NOT NULL DEFAULT FALSE;
ALTER TABLE record_heads ADD COLUMN consent_withdrawn {bool} NOT NULL DEFAULT FALSE;
