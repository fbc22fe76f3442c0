-- Batch-signed pushes: a revision whose device signed its batch's Merkle root keeps its
-- inclusion proof (`ReceiptProof` JSON: index, size, path), so it is forwarded, bundled and
-- served verifiable on its own; NULL for a revision signed alone.
ALTER TABLE records ADD COLUMN signature_proof TEXT;
