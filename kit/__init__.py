"""Shared technical pieces: SQL, locks, text limits, NUL handling, CSV, paginators, masks.

A leaf package: it imports no app of the portal (docs/architecture.md, direction of
dependencies; tests/test_architecture.py checks it)."""
