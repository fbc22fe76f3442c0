"""`python -m sync.server --data-dir DIR [--database-url URL] [--host H] [--port P]`."""

from __future__ import annotations

import argparse
from pathlib import Path

from sync.server.serve import DEFAULT_HOST, DEFAULT_PORT, serve
from sync.server.settings import ServerSettings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sync.server", description=__doc__)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--database-url", default="", help="default: SQLite in the data dir")
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    options = parser.parse_args(argv)
    settings = ServerSettings(data_dir=options.data_dir, database_url=options.database_url)
    serve(settings, options.host, options.port)


if __name__ == "__main__":
    main()
