"""Push and pull records through Kinto with kinto-http (run by Kinto's own Python, not ours).

    KINTO_PYTHON bench/_kinto_driver.py SERVER_URL RECORDS.json

Pushes every record with kinto-http's batch API (chunks of the server's batch_max_requests),
then pulls the whole collection back, and prints one JSON line of timings.
"""

import json
import sys
import time
import uuid

import kinto_http

PASSWORD = "bench password, loopback only"


def main() -> None:
    url, path = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as handle:
        records = json.load(handle)
    import requests

    requests.put(
        f"{url}/accounts/admin", json={"data": {"password": PASSWORD}}, timeout=30
    ).raise_for_status()
    client = kinto_http.Client(server_url=url, auth=("admin", PASSWORD))
    client.create_bucket(id="bench", if_not_exists=True)
    client.create_collection(id="records", bucket="bench", if_not_exists=True)
    started = time.perf_counter()
    with client.batch(bucket="bench", collection="records") as batch:
        for record in records:
            batch.create_record(data={"id": str(uuid.uuid4()), **record})
    push = time.perf_counter() - started
    started = time.perf_counter()
    pulled = client.get_records(bucket="bench", collection="records")
    pull = time.perf_counter() - started
    print(
        json.dumps({"push_s": push, "pull_s": pull, "pushed": len(records), "pulled": len(pulled)})
    )


if __name__ == "__main__":
    main()
