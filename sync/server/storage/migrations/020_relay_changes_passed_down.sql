-- At a relay: the upstream's record changes (conflict flags, resolutions, consent
-- withdrawals) it has passed down to its own devices, by the upstream's seq, so a page of
-- changes pulled again (after a cut between writing it and saving the cursor) writes once.
CREATE TABLE relay_changes_passed_down (
    upstream_seq {int8} PRIMARY KEY
);
