"""fieldapp: offline-first, encrypted field data collection."""

__version__ = "0.1.0"
