"""Where the app keeps its files."""

from __future__ import annotations

import os
from pathlib import Path

from fieldapp.errors import FormError

__all__ = ["STORE_FILENAME", "assets_dir", "data_dir", "store_path"]

STORE_FILENAME = "fieldapp.db"


def assets_dir() -> Path:
    """`assets/` beside the package in a checkout or app bundle, `_assets/` in a wheel: the
    built-in forms, the fonts and the message catalogues. Raises FormError naming where it
    looked when there is none."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "assets", here / "_assets"):
        if (candidate / "forms").is_dir():
            return candidate
    raise FormError(f"no assets/forms folder found near {here}")


def data_dir(explicit: str | Path | None = None) -> Path:
    """`explicit`, else FIELDAPP_DATA_DIR, else Flet's app data folder, else ~/.local/share."""
    chosen = (
        explicit
        or os.environ.get("FIELDAPP_DATA_DIR")
        or os.environ.get("FLET_APP_STORAGE_DATA")
        or Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "fieldapp"
    )
    path = Path(chosen).expanduser()
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def store_path(explicit: str | Path | None = None) -> Path:
    return data_dir(explicit) / STORE_FILENAME
