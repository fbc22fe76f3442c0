"""Captured media before it is stored: images re-encoded with every metadata stripped
(`fieldapp.media.images`)."""
