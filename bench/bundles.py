"""Offline bundles: bytes per record of a device bundle against the records' own JSON, and
the time to write it on the device and ingest it at the centre (a real server database).

    .venv/bin/python bench/bundles.py [--records 2000] [--kem MLKEM768_X25519|X25519]

Prints a table: the bundle's size per record and its ratio to the records' JSON, next to the
envelopes' uncompressed size (what one record costs as JSON in a push body). Everything runs
in a temporary directory, removed at the end.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench._common import (
    PASSPHRASE,
    Deployment,
    ServerProcess,
    fill_store,
    json_size,
    machine,
    print_table,
    sample_records,
)
from fieldapp import crypto
from fieldapp.store import Store
from sync.client import enrol, export_bundle, import_bundle
from sync.protocol import read_bundle
from sync.server.bundles import bundle_server
from sync.server.settings import ServerSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--kem", default="MLKEM768_X25519", choices=["MLKEM768_X25519", "X25519"])
    options = parser.parse_args()
    count = options.records
    records = sample_records(count)
    record_json = sum(json_size(values) for _, values in records)
    workdir = Path(tempfile.mkdtemp(prefix="fieldapp-bundles-"))
    try:
        settings = ServerSettings(data_dir=workdir / "server" / "data")
        deployment = Deployment(settings, crypto.OrgKeyPair.generate(options.kem))
        store = Store.create(workdir / "device" / "fieldapp.db", PASSPHRASE)
        with ServerProcess(settings) as server:
            enrol(store, server.url, deployment.codes(1)[0])
        print(f"finalising {count} records on the device...", file=sys.stderr, flush=True)
        fill_store(store, records)
        started = time.perf_counter()
        bundle = export_bundle(store)
        exported = time.perf_counter() - started
        envelopes = len(read_bundle(bundle.data).payload)
        started = time.perf_counter()
        with bundle_server(settings) as centre:
            result = centre.import_bundle(bundle.data)
        ingested = time.perf_counter() - started
        accepted = sum(1 for outcome in result.outcomes if outcome.status == "accepted")
        started = time.perf_counter()
        report = import_bundle(store, result.answer)
        answered = time.perf_counter() - started
        store.close()
        size = len(bundle.data)
        print(f"\n{count} records (avg {record_json / count:.0f} B of JSON each, KEM"
              f" {options.kem}); {machine()}")  # fmt: skip
        print_table(
            "device bundle",
            ["measure", "value"],
            [
                ["bundle file", f"{size:,} B"],
                ["per record", f"{size / count:.0f} B = {size / record_json:.2f}x the JSON"],
                [
                    "envelopes inflated, per record",
                    f"{envelopes / count:.0f} B = {envelopes / record_json:.2f}x the JSON",
                ],
                ["answer bundle per record", f"{len(result.answer) / count:.0f} B"],
                ["export (device)", f"{exported:.2f} s"],
                ["import at the centre", f"{ingested:.2f} s ({count / ingested:,.0f} records/s)"],
                ["answer applied on the device", f"{answered:.2f} s"],
                ["accepted / sent", f"{accepted} / {report.accepted + report.duplicate}"],
            ],
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
