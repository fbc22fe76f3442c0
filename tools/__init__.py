"""Development tools (not shipped in the app): see each module."""
