"""The central server (FastAPI, `server` extra): app factory, storage backends."""
