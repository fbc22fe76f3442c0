"""One sync in its own process, so a test can SIGKILL a client in the middle of a push.

Usage: python _sync_process.py STORE_PATH SERVER_URL MAX_BATCH_BYTES (passphrase from the
FIELDAPP_TEST_PASSPHRASE environment variable). Prints the report as one JSON line.
"""

from __future__ import annotations

import json
import os
import sys

from fieldapp.store import Store
from sync.client import RetryPolicy, SyncClient


def main() -> int:
    store_path, url, max_batch_bytes = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = Store(store_path)
    store.keyring.unlock(os.environ["FIELDAPP_TEST_PASSPHRASE"])
    retry = RetryPolicy(base_delay=0.01, max_delay=0.2, attempts=10)
    with SyncClient(store, url, max_batch_bytes=max_batch_bytes, retry=retry) as client:
        print("syncing", flush=True)
        report = client.sync()
    print(json.dumps({"sent": report.sent, "errors": report.errors, "ok": report.ok}))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
