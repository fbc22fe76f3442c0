"""Pieces the screens share: common ones, and the generic FormSpec renderer's (fields, nodes,
repeats, review, what frames a record)."""
