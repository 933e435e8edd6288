"""Follow one run in a store incrementally: the reader side of the single-writer design.

`RunFeed.poll()` reads only the events after its cursor (`store.events_since`) and re-reads just
the trials those events touched. A non-blocking lock makes overlapping polls return at once
instead of piling up (NNI #1425). Works for a live run in this process, another process, or a
finished run.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from nasbot_viz.records import TrialRecord, TrialState


@dataclass
class PollResult:
    changed: set[int] = field(default_factory=set)  # trial ids that are new or changed
    new: set[int] = field(default_factory=set)  # trial ids seen for the first time
    snapshot: bool = False  # a model snapshot arrived
    status: str | None = None  # the run's status when it changed
    busy: bool = False  # another poll was running; nothing was read
    error: str | None = None


class RunFeed:
    """In-memory mirror of one run's trials, kept current by `poll()`."""

    def __init__(self, store: Any, run_id: str, *, direction: str = "minimize"):
        self.store = store
        self.run_id = run_id
        self.direction = direction
        self.cursor = 0
        self.trials: dict[int, TrialRecord] = {}
        self.order: list[int] = []  # trial ids in first-seen order (append-only)
        self.status: str = "unknown"
        self.config: dict[str, Any] = {}
        self.version = 0  # bumps whenever anything changed
        self.snapshot_version = 0
        self.last_change = time.time()
        self._lock = threading.Lock()
        self.polls = 0
        self._loaded = False

    # --------------------------------------------------------------------- reading
    def poll(self, limit: int | None = 5000) -> PollResult:
        if not self._lock.acquire(blocking=False):
            return PollResult(busy=True)
        try:
            return self._poll(limit)
        except Exception as err:  # a locked or vanished store must not kill the page
            return PollResult(error=f"{type(err).__name__}: {err}")
        finally:
            self._lock.release()

    def _poll(self, limit: int | None) -> PollResult:
        self.polls += 1
        out = PollResult()
        if not self._loaded:
            run = self.store.get_run(self.run_id)
            self.config = dict(run.get("config") or {})
            self.status = out.status = str(run.get("status", "unknown"))
            self.direction = str(self.config.get("direction", self.direction))
            last_seq = getattr(self.store, "last_seq", None)
            if last_seq is not None:  # bulk load: take the cursor first, then every trial once
                self.cursor = int(last_seq(self.run_id))
                for rec in self.store.trials(self.run_id):
                    self._put(rec, out)
                out.snapshot = True
            self._loaded = True
            return self._finish(out)
        events = self.store.events_since(self.run_id, self.cursor, limit)
        if not events:
            return out
        touched: set[int] = set()
        for ev in events:
            if ev.kind == "snapshot":
                out.snapshot = True
            elif ev.kind == "status":
                st = (ev.payload or {}).get("status")
                if st:
                    self.status = out.status = str(st)
            if ev.trial_id is not None and ev.kind != "snapshot":
                touched.add(int(ev.trial_id))
        if len(touched) > 200:  # a big backlog: one bulk read beats many single ones
            for rec in self.store.trials(self.run_id):
                if rec.trial_id in touched:
                    self._put(rec, out)
        else:
            for tid in sorted(touched):
                try:
                    self._put(self.store.trial(self.run_id, tid), out)
                except Exception:
                    continue
        self.cursor = max(ev.seq for ev in events)
        return self._finish(out)

    def _finish(self, out: PollResult) -> PollResult:
        if out.status is None and not out.changed and not out.snapshot:
            return out
        if out.snapshot:
            self.snapshot_version += 1
        self.version += 1
        self.last_change = time.time()
        return out

    def _put(self, rec: TrialRecord, out: PollResult) -> None:
        tid = int(rec.trial_id)
        if tid not in self.trials:
            self.order.append(tid)
            out.new.add(tid)
        self.trials[tid] = rec
        out.changed.add(tid)

    # --------------------------------------------------------------------- derived
    def _better(self, a: float, b: float) -> bool:
        return a > b if self.direction.startswith("max") else a < b

    def incumbent(self) -> int | None:
        best: int | None = None
        for tid in self.order:
            v = self.trials[tid].value
            if self.trials[tid].state == TrialState.DONE and v is not None and math.isfinite(v):
                if best is None or self._better(v, self.trials[best].value):  # type: ignore[arg-type]
                    best = tid
        return best

    def latest(self) -> int | None:
        return self.order[-1] if self.order else None

    def counts(self) -> dict[str, int]:
        c = {s.value: 0 for s in TrialState}
        for r in self.trials.values():
            c[str(r.state)] = c.get(str(r.state), 0) + 1
        return c
