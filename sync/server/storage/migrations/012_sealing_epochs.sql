-- Sealing epochs (fieldapp.crypto.epochs): each epoch header as a device pushed it, by
-- organisation and sha256 (content-addressed: a header many records name is stored once).
-- A header holds the epoch secret HPKE-sealed to the organisation's keys only; the office
-- fetches it with the sealed records that name it.
CREATE TABLE sealing_epochs (
    org_id TEXT NOT NULL,
    epoch_id TEXT NOT NULL,
    header {blob} NOT NULL,
    PRIMARY KEY (org_id, epoch_id)
);
