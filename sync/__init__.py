"""Sync: the wire protocol, the httpx client and the central server."""
