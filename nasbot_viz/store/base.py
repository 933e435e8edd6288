"""The `RunStore` protocol: what the loop writes and every viewer reads.

The loop is the only writer. Readers follow a run with `events_since(run_id, cursor)`, where the
cursor is the last `Event.seq` they saw (0 to start), so they only ever read what is new. Event
sequence numbers increase across the whole store, so a cursor is never reused.

Event kinds and their payloads (plain JSON):

- ``status``: ``{"status": ...}`` ('created', 'running', 'paused', 'stopped', 'finished', ...)
- ``proposed``: ``{"architecture", "arch_id", "parents", "modifiers", "origin", "model_view"}``
- ``started``: ``{"worker"}``
- ``progress``: one `EpochPoint` as a dict
- ``done``: ``{"value", "result"}``; ``failed``: ``{"reason", "result"}``
- ``interrupted``: ``{"previous_state"}``
- ``snapshot``: ``{"candidates": n}`` (read the snapshot itself with `snapshot_for`)
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable

from nasbot_viz.records import EpochPoint, Event, Proposal, Result, TrialRecord

SCHEMA_VERSION = 1

RUN_STATUSES = ("created", "running", "paused", "stopped", "finished", "cancelled", "crashed")


@runtime_checkable
class RunStore(Protocol):
    # -- runs
    def create_run(self, config: dict[str, Any], *, run_id: str | None = None) -> str:
        """Register a run (config holds task, method, seed, searcher parameters, code version)."""

    def get_run(self, run_id: str) -> dict[str, Any]:
        """{'run_id', 'created_at', 'status', 'config'}; StoreError if unknown."""

    def list_runs(self) -> list[dict[str, Any]]:
        """Every run, oldest first."""

    def set_run_status(self, run_id: str, status: str) -> None:
        """'running', 'paused', 'stopped', 'finished', 'cancelled', 'crashed'; logged as a 'status' event."""

    def update_run_config(self, run_id: str, updates: dict[str, Any]) -> None:
        """Merge keys into a run's config (resume records its overrides here)."""

    # -- trials (each call is one transaction and appends one event)
    def add_trial(self, run_id: str, proposal: Proposal) -> None:
        """State pending; event 'proposed' with the lineage and model view."""

    def mark_running(self, run_id: str, trial_id: int, worker: str | None = None) -> None:
        """Pending -> running; event 'started'."""

    def record_progress(self, run_id: str, trial_id: int, point: EpochPoint) -> None:
        """A per-epoch point of a running trial; event 'progress'."""

    def record_result(self, run_id: str, trial_id: int, result: Result) -> None:
        """Done (result.ok) or failed with its reason; event 'done' or 'failed'."""

    def mark_interrupted(self, run_id: str, trial_ids: list[int]) -> None:
        """Pending or running trials that will never finish; one event 'interrupted' each."""

    def add_snapshot(self, run_id: str, trial_id: int, snapshot: dict[str, Any]) -> None:
        """The model's view when `trial_id` was proposed: {'trial_ids', 'mean', 'std', 'acquisition',
        'candidates': [{'arch': dict, 'mean', 'std', 'acquisition'}], 'chosen': index}."""

    # -- reads
    def trials(self, run_id: str) -> list[TrialRecord]:
        """Every trial of a run in trial-id order."""

    def trial(self, run_id: str, trial_id: int) -> TrialRecord:
        """One trial; StoreError if unknown."""

    def counts(self, run_id: str) -> dict[str, int]:
        """Number of trials in each state (every `TrialState` value is a key)."""

    def latest_snapshot(self, run_id: str) -> dict[str, Any] | None: ...

    def snapshot_for(self, run_id: str, trial_id: int) -> dict[str, Any] | None: ...

    def events_since(self, run_id: str, cursor: int = 0, limit: int | None = None) -> list[Event]:
        """Events of the run with ``seq > cursor``, oldest first (at most ``limit``)."""

    def last_seq(self, run_id: str) -> int:
        """The newest event's seq for the run (0 if none): a cursor that skips the history."""

    def writer_lock(self) -> AbstractContextManager[None]:
        """Held by the loop while it writes; raises StoreError if another loop holds it."""

    def writer_active(self) -> bool:
        """True while some live process holds the writer lock."""

    def close(self) -> None: ...
