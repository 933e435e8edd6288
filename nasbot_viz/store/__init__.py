"""Run stores: where a search's proposals, results, model snapshots and events live.

`open_store` picks the backend from a path or URL: ``":memory:"`` or ``"memory://"`` for the
in-memory store, ``"sqlite:///relative.db"`` / ``"sqlite:////absolute.db"`` or a plain path for SQLite.
"""

from __future__ import annotations

import os
from typing import Any

from nasbot_viz.errors import StoreError
from nasbot_viz.store.base import RUN_STATUSES, SCHEMA_VERSION, RunStore
from nasbot_viz.store.memory import MemoryStore
from nasbot_viz.store.sqlite import SQLiteStore


def open_store(path_or_url: "str | os.PathLike[str]", *, create: bool = True, readonly: bool = False) -> RunStore:
    """Open (or create) a run store. Viewers pass ``readonly=True`` (which also means: must exist)."""
    if isinstance(path_or_url, (MemoryStore, SQLiteStore)):
        return path_or_url
    text = os.fspath(path_or_url)
    if not text:
        raise StoreError("empty store path")
    if text in (":memory:", "memory://", "memory:"):
        if readonly:
            raise StoreError("an in-memory store cannot be opened read-only: it only exists inside its process")
        return MemoryStore()
    if text.startswith("sqlite:///"):
        text = text[len("sqlite:///"):]  # SQLAlchemy's convention: sqlite:///rel.db, sqlite:////abs.db
    elif "://" in text:
        raise StoreError(f"unknown store URL {text!r}; use a file path, 'sqlite:///path' or ':memory:'")
    return SQLiteStore(text, create=create and not readonly, readonly=readonly)


def resolve_run_id(store: RunStore, run_id: str | None = None) -> str:
    """The run to show when the user named none: the newest one. StoreError if the store is empty."""
    runs = store.list_runs()
    if run_id is not None:
        store.get_run(run_id)
        return run_id
    if not runs:
        raise StoreError(f"{getattr(store, 'location', 'the store')} holds no runs yet")
    return runs[-1]["run_id"]


__all__ = ["MemoryStore", "RUN_STATUSES", "RunStore", "SCHEMA_VERSION", "SQLiteStore", "StoreError", "open_store",
           "resolve_run_id"]
