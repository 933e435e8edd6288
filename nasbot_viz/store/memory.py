"""The in-memory `RunStore`: for tests, notebooks and throwaway demo runs. Thread-safe; everything
it hands out is a copy, so readers can never see (or cause) a half-written trial."""

from __future__ import annotations

import contextlib
import copy
import threading
import time
import uuid
from typing import Any

from nasbot_viz.errors import StoreError
from nasbot_viz.records import EpochPoint, Event, Proposal, Result, TrialRecord, TrialState
from nasbot_viz.store import _codec as C


class MemoryStore:
    """Everything in dictionaries behind one lock; the same contract as `SQLiteStore`."""

    location = ":memory:"

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._runs: dict[str, dict[str, Any]] = {}
        self._trials: dict[str, dict[int, dict[str, Any]]] = {}
        self._snapshots: dict[str, dict[int, dict[str, Any]]] = {}
        self._snapshot_order: dict[str, list[int]] = {}
        self._events: dict[str, list[Event]] = {}
        self._seq = 0
        self._closed = False

    # ------------------------------------------------------------------ helpers
    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("the store is closed")

    def _run(self, run_id: str) -> dict[str, Any]:
        self._check_open()
        try:
            return self._runs[run_id]
        except KeyError:
            raise StoreError(f"no run {run_id!r} in this store") from None

    def _trial(self, run_id: str, trial_id: int) -> dict[str, Any]:
        self._run(run_id)
        try:
            return self._trials[run_id][int(trial_id)]
        except KeyError:
            raise StoreError(f"run {run_id!r} has no trial {trial_id}") from None

    def _log(self, run_id: str, kind: str, trial_id: int | None, payload: dict[str, Any]) -> None:
        # payloads are built from plain data already; readers get deep copies, nothing mutates them
        self._seq += 1
        self._events[run_id].append(Event(self._seq, run_id, kind, trial_id, time.time(), payload))

    @staticmethod
    def _record(row: dict[str, Any]) -> TrialRecord:
        row = copy.deepcopy(row)
        return TrialRecord(
            run_id=row["run_id"],
            trial_id=row["trial_id"],
            state=TrialState(row["state"]),
            architecture=row["architecture"],
            arch_id=row["arch_id"],
            parents=tuple(row["parents"]),
            modifiers=tuple(row["modifiers"]),
            origin=row["origin"],
            value=row["value"],
            failure_reason=row["failure_reason"],
            result=row["result"],
            model_view=row["model_view"],
            curve=tuple(row["curve"]),
            worker=row["worker"],
            proposed_at=row["proposed_at"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
        )

    # ------------------------------------------------------------------ runs
    def create_run(self, config: dict[str, Any], *, run_id: str | None = None) -> str:
        with self._lock:
            self._check_open()
            run_id = run_id or uuid.uuid4().hex[:12]
            if run_id in self._runs:
                raise StoreError(f"a run {run_id!r} already exists in this store")
            self._runs[run_id] = {"run_id": run_id, "created_at": time.time(), "status": "created",
                                  "config": C.plain(dict(config))}
            self._trials[run_id] = {}
            self._snapshots[run_id] = {}
            self._snapshot_order[run_id] = []
            self._events[run_id] = []
            self._log(run_id, "status", None, {"status": "created"})
            return run_id

    def get_run(self, run_id: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._run(run_id))

    def list_runs(self) -> list[dict[str, Any]]:
        with self._lock:
            self._check_open()
            return [copy.deepcopy(r) for r in sorted(self._runs.values(), key=lambda r: r["created_at"])]

    def set_run_status(self, run_id: str, status: str) -> None:
        with self._lock:
            self._run(run_id)["status"] = C.check_status(status)
            self._log(run_id, "status", None, {"status": status})

    def update_run_config(self, run_id: str, updates: dict[str, Any]) -> None:
        with self._lock:
            self._run(run_id)["config"].update(C.plain(dict(updates)))

    # ------------------------------------------------------------------ trials
    def add_trial(self, run_id: str, proposal: Proposal) -> None:
        fields = C.proposal_fields(proposal)
        with self._lock:
            self._run(run_id)
            tid = int(proposal.trial_id)
            if tid in self._trials[run_id]:
                raise StoreError(f"run {run_id!r} already has a trial {tid}")
            self._trials[run_id][tid] = dict(
                run_id=run_id, trial_id=tid, state=TrialState.PENDING.value, value=None, failure_reason=None,
                result=None, curve=[], worker=None, proposed_at=time.time(), started_at=None, finished_at=None,
                **fields,
            )
            self._log(run_id, "proposed", tid, fields)

    def mark_running(self, run_id: str, trial_id: int, worker: str | None = None) -> None:
        with self._lock:
            row = self._trial(run_id, trial_id)
            if row["state"] != TrialState.PENDING.value:
                raise StoreError(f"trial {trial_id} is {row['state']}, not pending; it cannot start")
            row.update(state=TrialState.RUNNING.value, worker=worker, started_at=time.time())
            self._log(run_id, "started", int(trial_id), {"worker": worker})

    def record_progress(self, run_id: str, trial_id: int, point: EpochPoint) -> None:
        p = C.point_dict(point)
        with self._lock:
            row = self._trial(run_id, trial_id)
            if row["state"] != TrialState.RUNNING.value:
                raise StoreError(f"trial {trial_id} is {row['state']}, not running; progress ignored")
            row["curve"].append(p)
            self._log(run_id, "progress", int(trial_id), p)

    def record_result(self, run_id: str, trial_id: int, result: Result) -> None:
        rd = C.result_dict(result)
        with self._lock:
            row = self._trial(run_id, trial_id)
            if row["state"] not in (TrialState.PENDING.value, TrialState.RUNNING.value):
                raise StoreError(f"trial {trial_id} is already {row['state']}; a result cannot be recorded twice")
            state = TrialState.DONE if result.ok else TrialState.FAILED
            row.update(state=state.value, value=C.finite_or_none(result.value) if result.ok else None,
                       failure_reason=None if result.ok else (result.failure_reason or "failed"),
                       result=rd, finished_at=time.time())
            if rd["curve"]:
                row["curve"] = list(rd["curve"])
            if result.ok:
                self._log(run_id, "done", int(trial_id), {"value": row["value"], "result": rd})
            else:
                self._log(run_id, "failed", int(trial_id), {"reason": row["failure_reason"], "result": rd})

    def mark_interrupted(self, run_id: str, trial_ids: list[int]) -> None:
        with self._lock:
            rows = [self._trial(run_id, t) for t in trial_ids]
            for row in rows:
                if row["state"] not in (TrialState.PENDING.value, TrialState.RUNNING.value):
                    raise StoreError(f"trial {row['trial_id']} is already {row['state']}; it cannot be interrupted")
            for row in rows:
                previous = row["state"]
                row.update(state=TrialState.INTERRUPTED.value, finished_at=time.time())
                self._log(run_id, "interrupted", row["trial_id"], {"previous_state": previous})

    def add_snapshot(self, run_id: str, trial_id: int, snapshot: dict[str, Any]) -> None:
        snap = C.plain(snapshot)
        with self._lock:
            self._trial(run_id, trial_id)
            tid = int(trial_id)
            if tid not in self._snapshots[run_id]:
                self._snapshot_order[run_id].append(tid)
            self._snapshots[run_id][tid] = snap
            self._log(run_id, "snapshot", tid, {"candidates": len(snap.get("candidates", []) or [])})

    # ------------------------------------------------------------------ reads
    def trials(self, run_id: str) -> list[TrialRecord]:
        with self._lock:
            self._run(run_id)
            return [self._record(self._trials[run_id][t]) for t in sorted(self._trials[run_id])]

    def trial(self, run_id: str, trial_id: int) -> TrialRecord:
        with self._lock:
            return self._record(self._trial(run_id, trial_id))

    def counts(self, run_id: str) -> dict[str, int]:
        with self._lock:
            self._run(run_id)
            out = {s.value: 0 for s in TrialState}
            for row in self._trials[run_id].values():
                out[row["state"]] += 1
            return out

    def latest_snapshot(self, run_id: str) -> dict[str, Any] | None:
        with self._lock:
            self._run(run_id)
            order = self._snapshot_order[run_id]
            return copy.deepcopy(self._snapshots[run_id][order[-1]]) if order else None

    def snapshot_for(self, run_id: str, trial_id: int) -> dict[str, Any] | None:
        with self._lock:
            self._run(run_id)
            snap = self._snapshots[run_id].get(int(trial_id))
            return copy.deepcopy(snap)

    def events_since(self, run_id: str, cursor: int = 0, limit: int | None = None) -> list[Event]:
        with self._lock:
            self._run(run_id)
            events = self._events[run_id]
            # events are in seq order: binary search for the first one past the cursor
            lo, hi = 0, len(events)
            while lo < hi:
                mid = (lo + hi) // 2
                if events[mid].seq <= cursor:
                    lo = mid + 1
                else:
                    hi = mid
            out = events[lo:] if limit is None else events[lo:lo + max(0, int(limit))]
            return [copy.deepcopy(e) for e in out]

    def last_seq(self, run_id: str) -> int:
        with self._lock:
            self._run(run_id)
            events = self._events[run_id]
            return events[-1].seq if events else 0

    def writer_lock(self) -> contextlib.AbstractContextManager[None]:
        """Nothing to lock: an in-memory store lives and dies with its process."""
        return contextlib.nullcontext()

    def writer_active(self) -> bool:
        """Unknowable from outside the process; an in-memory store has no other readers anyway."""
        return False

    def close(self) -> None:
        self._closed = True

    def __enter__(self) -> "MemoryStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<MemoryStore {len(self._runs)} runs>"
