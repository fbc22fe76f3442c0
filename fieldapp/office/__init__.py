"""The office room: what a coordinator's laptop runs and the phone build never ships.

XLSForm import, spreadsheet record import, the HTCDS export, the demo and its sample data.
They need the `server` extra (pyxform, openpyxl) and are imported by the CLI inside its
commands, never by the app (`tests/test_architecture.py` holds the line).
"""
