"""The ask/tell protocol every searcher follows, and the bookkeeping they share.

A searcher proposes the initial pool first (as the paper does), then its own networks. Each
`Proposal` carries its lineage: the parent trial and the modifier records applied to it, in order.

Determinism and resume. All randomness of a proposal comes from a generator seeded by
``(seed, trial_id)`` (and the GP's by ``(seed, number of observations)``), never from a stream
that advances across calls. A proposal is therefore a pure function of the seed and the history
(what was proposed, told, failed, still pending), so `state_dict` is plain data — config, seed,
trials — and a restored searcher proposes exactly what the uninterrupted one would have.

Resume from a run store. `replay(records)` takes the store's `TrialRecord` rows (or their dicts):
done and failed trials are registered as they were; pending, running or interrupted ones are
marked *interrupted* and queued, and the next `ask` hands each back first as a new trial
(``origin='resume'``, a new trial id, the same architecture, parents and modifiers).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Iterable, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from nasbot_viz.arch.architecture import Architecture
from nasbot_viz.arch.constraints import Constraints
from nasbot_viz.errors import NasbotVizError, SearchError
from nasbot_viz.records import ModelView, Proposal, TrialRecord, TrialState

DIRECTIONS = ("minimize", "maximize")
STATE_FORMAT = "nasbot-viz/searcher"
STATE_VERSION = 1
_PURPOSE = {"propose": 1, "fit": 2}


@runtime_checkable
class Searcher(Protocol):
    """What the run loop, the explorer and notebooks rely on."""

    kind: str
    direction: str

    def ask(self, n: int = 1) -> list[Proposal]: ...

    def tell(self, trial_id: int, value: float) -> None: ...

    def tell_failure(self, trial_id: int, reason: str) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: Mapping[str, Any]) -> None: ...

    def replay(self, records: Iterable[TrialRecord | Mapping[str, Any]]) -> int: ...

    def snapshot(self) -> dict[str, Any]: ...


@dataclass
class _Trial:
    proposal: Proposal
    state: str  # 'pending', 'done', 'failed', 'interrupted'
    value: float | None = None
    failure_reason: str | None = None


_REGISTRY: dict[str, type["BaseSearcher"]] = {}


class BaseSearcher:
    """Shared machinery: trials, the initial pool, errors, state_dict/replay. Subclasses implement
    `_propose(trial_id)` (and optionally `_snapshot_extra`)."""

    method: ClassVar[str] = "base"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.method != "base":
            _REGISTRY[cls.method] = cls

    def __init__(
        self,
        *,
        kind: str = "cnn",
        direction: str = "minimize",
        seed: int | None = 0,
        initial_pool: Sequence[Architecture | Mapping[str, Any]] | None = None,
        constraints: Constraints | Mapping[str, Any] | None = None,
        max_attempts: int = 50,
        feasible: Callable[[Architecture], bool] | None = None,
    ):
        if kind not in ("cnn", "mlp"):
            raise SearchError(f"kind must be 'cnn' or 'mlp', got {kind!r}")
        if direction not in DIRECTIONS:
            raise SearchError(f"direction must be 'minimize' or 'maximize', got {direction!r}")
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (2**63))
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
            raise SearchError(f"seed must be a non-negative integer, got {seed!r}")
        self.kind = kind
        self.direction = direction
        self.seed = int(seed)
        self.max_attempts = int(max_attempts)
        self.constraints = _parse_constraints(constraints)
        # A runtime check from the task (e.g. its parameter budget); not part of state_dict,
        # because the run loop derives it from the task again on resume.
        self.feasible = feasible
        self.initial_pool = self._parse_pool(initial_pool)
        self._lock = threading.RLock()
        self._reset_history()

    @property
    def search_space(self) -> "SearchSpace":
        """The constraints plus the task's feasibility check: what mutations must stay inside."""
        return SearchSpace(self.constraints, self.feasible)

    # ------------------------------------------------------------------------ configuration
    def _parse_pool(self, pool: Sequence[Any] | None) -> list[Architecture]:
        if pool is None:
            from nasbot_viz.arch.zoo import initial_pool

            return initial_pool(self.kind)
        out: list[Architecture] = []
        seen: set[str] = set()
        for i, item in enumerate(pool):
            arch = self._as_architecture(item, f"initial pool network {i}")
            if arch.id not in seen:
                seen.add(arch.id)
                out.append(arch)
        if not out:
            raise SearchError("the initial pool is empty; give at least one network (or None for the paper's pool)")
        return out

    def _as_architecture(self, item: Any, what: str) -> Architecture:
        if isinstance(item, Mapping):
            try:
                item = Architecture.from_dict(item)
            except NasbotVizError as err:
                raise SearchError(f"{what} is not a valid architecture: {err}") from None
        if not isinstance(item, Architecture):
            raise SearchError(f"{what} must be an Architecture or its dict, got {type(item).__name__}")
        if item.kind != self.kind:
            label = f" ({item.name})" if item.name else ""
            raise SearchError(
                f"{what}{label} is a {item.kind.upper()}, but this search is over {self.kind.upper()}s"
            )
        return item

    def config(self) -> dict[str, Any]:
        """Constructor keyword arguments as plain JSON-able data."""
        return {
            "kind": self.kind,
            "direction": self.direction,
            "seed": self.seed,
            "initial_pool": [a.to_dict() for a in self.initial_pool],
            "constraints": self.constraints.to_dict() if self.constraints is not None else None,
            "max_attempts": self.max_attempts,
        }

    def _reset_history(self) -> None:
        self._trials: dict[int, _Trial] = {}
        self._by_arch: dict[str, int] = {}  # arch id → latest trial id holding it
        self._next_id = 0
        self._tell_order: list[int] = []

    # ------------------------------------------------------------------------ views
    def rng(self, trial_id: int, purpose: str = "propose") -> np.random.Generator:
        """The generator for one decision: a pure function of (seed, purpose, trial_id)."""
        return np.random.default_rng([self.seed, _PURPOSE[purpose], int(trial_id)])

    def internal(self, value: float) -> float:
        """Values as the model sees them: larger is better."""
        return float(value) if self.direction == "maximize" else -float(value)

    def external(self, value: float) -> float:
        return float(value) if self.direction == "maximize" else -float(value)

    def trials_in(self, state: str) -> list[tuple[int, _Trial]]:
        return [(tid, t) for tid, t in sorted(self._trials.items()) if t.state == state]

    @property
    def num_trials(self) -> int:
        return len(self._trials)

    @property
    def pending_ids(self) -> list[int]:
        return [tid for tid, _ in self.trials_in("pending")]

    def observations(self) -> tuple[list[int], list[Architecture], np.ndarray]:
        """Told trials in trial-id order: ids, architectures, values in the user's direction."""
        done = self.trials_in("done")
        return (
            [tid for tid, _ in done],
            [t.proposal.architecture for _, t in done],
            np.array([t.value for _, t in done], dtype=float),
        )

    def best(self) -> dict[str, Any] | None:
        """The incumbent: trial id, value and architecture of the best told trial."""
        done = self.trials_in("done")
        if not done:
            return None
        tid, t = max(done, key=lambda kv: (self.internal(kv[1].value), -kv[0]))
        return {"trial_id": tid, "value": t.value, "architecture": t.proposal.architecture}

    def known_ids(self) -> set[str]:
        """Architectures never to propose again: every one proposed, told, failed or queued."""
        return {t.proposal.architecture.id for t in self._trials.values()}

    def parent_trial(self, arch: Architecture) -> tuple[int, ...]:
        tid = self._by_arch.get(arch.id)
        return () if tid is None else (tid,)

    # ------------------------------------------------------------------------ ask / tell
    def ask(self, n: int = 1) -> list[Proposal]:
        """n proposals; earlier ones in the same call count as pending for later ones."""
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            raise SearchError(f"ask(n) needs a positive integer n, got {n!r}")
        with self._lock:
            out = []
            for _ in range(int(n)):
                tid = self._next_id
                proposal = self._resume_proposal(tid) or self._pool_proposal(tid) or self._propose(tid)
                self._register(proposal, "pending")
                out.append(proposal)
            return out

    def _resume_proposal(self, tid: int) -> Proposal | None:
        live = {t.proposal.architecture.id for t in self._trials.values() if t.state != "interrupted"}
        for _, t in self.trials_in("interrupted"):
            p = t.proposal
            if p.architecture.id not in live:
                return Proposal(tid, p.architecture, p.parents, p.modifiers, p.model_view, "resume")
        return None

    def _pool_proposal(self, tid: int) -> Proposal | None:
        known = self.known_ids()
        for arch in self.initial_pool:
            if arch.id not in known:
                return Proposal(tid, arch, origin="pool")
        return None

    def _propose(self, trial_id: int) -> Proposal:
        raise NotImplementedError

    def _register(self, proposal: Proposal, state: str, value: float | None = None, reason: str | None = None) -> None:
        tid = proposal.trial_id
        self._trials[tid] = _Trial(proposal, state, value, reason)
        if state != "interrupted":
            self._by_arch[proposal.architecture.id] = tid
        self._next_id = max(self._next_id, tid + 1)

    def _pending_trial(self, trial_id: Any) -> _Trial:
        if not isinstance(trial_id, (int, np.integer)) or isinstance(trial_id, bool):
            raise SearchError(f"trial ids are integers, got {trial_id!r}")
        trial = self._trials.get(int(trial_id))
        if trial is None:
            known = f"0..{self._next_id - 1}" if self._next_id else "none yet"
            raise SearchError(f"unknown trial id {trial_id} (this searcher's trial ids: {known})")
        if trial.state == "done":
            raise SearchError(f"trial {trial_id} was already told (value {trial.value!r}); each trial is told once")
        if trial.state == "failed":
            raise SearchError(f"trial {trial_id} was already reported as failed ({trial.failure_reason})")
        if trial.state == "interrupted":
            raise SearchError(f"trial {trial_id} was interrupted and is re-proposed under a new trial id")
        return trial

    def tell(self, trial_id: int, value: float) -> None:
        """Report the objective of a proposed trial (validation error, or whatever `direction` says)."""
        with self._lock:
            trial = self._pending_trial(trial_id)
            trial.value = _check_value(trial_id, value)
            trial.state = "done"
            self._tell_order.append(int(trial_id))
            self._on_change()

    def tell_failure(self, trial_id: int, reason: str = "failed") -> None:
        """Record that an evaluation failed: the search goes on and never proposes it again."""
        with self._lock:
            trial = self._pending_trial(trial_id)
            trial.state = "failed"
            trial.failure_reason = str(reason) if reason else "failed"
            self._tell_order.append(int(trial_id))
            self._on_change()

    def add_observation(self, architecture: Architecture | Mapping[str, Any], value: float) -> int:
        """Register a network evaluated elsewhere (a pre-evaluated pool point); returns its trial id."""
        with self._lock:
            arch = self._as_architecture(architecture, "the observed architecture")
            if arch.id in self.known_ids():
                raise SearchError(f"{arch!r} is already part of this search (trial {self._by_arch.get(arch.id)})")
            tid = self._next_id
            v = _check_value(tid, value)
            self._register(Proposal(tid, arch, origin="pool"), "done", v)
            self._tell_order.append(tid)
            self._on_change()
            return tid

    def _on_change(self) -> None:
        """Hook for subclasses whose cached model depends on the told set."""

    # ------------------------------------------------------------------------ persistence
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: config, seed and the trials, as plain JSON-able data."""
        with self._lock:
            return {
                "format": STATE_FORMAT,
                "version": STATE_VERSION,
                "method": self.method,
                "config": self.config(),
                "rng": {"scheme": "per-trial", "seed": self.seed},
                "next_trial_id": self._next_id,
                "tell_order": list(self._tell_order),
                "trials": [
                    {
                        "trial_id": tid,
                        "state": t.state,
                        "architecture": t.proposal.architecture.to_dict(),
                        "parents": list(t.proposal.parents),
                        "modifiers": t.proposal.modifiers_as_dicts(),
                        "origin": t.proposal.origin,
                        "model_view": t.proposal.model_view.to_dict() if t.proposal.model_view else None,
                        "value": t.value,
                        "failure_reason": t.failure_reason,
                    }
                    for tid, t in sorted(self._trials.items())
                ],
            }

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any]) -> "BaseSearcher":
        """Rebuild the searcher a `state_dict` came from (any method when called on the base class)."""
        if not isinstance(state, Mapping) or state.get("format") != STATE_FORMAT:
            raise SearchError("not a searcher state (expected a dict from Searcher.state_dict())")
        method = state.get("method")
        target = _REGISTRY.get(method) if cls is BaseSearcher else cls
        if target is None:
            raise SearchError(f"unknown search method {method!r}; known: {sorted(_REGISTRY)}")
        if target.method != method:
            raise SearchError(f"this state is from a {method!r} searcher, not {target.method!r}")
        config = state.get("config")
        if not isinstance(config, Mapping):
            raise SearchError("searcher state has no 'config' object")
        obj = target(**dict(config))
        obj.load_state_dict(state)
        return obj

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Replace this searcher's history with the one in ``state`` (same method and kind)."""
        if not isinstance(state, Mapping) or state.get("format") != STATE_FORMAT:
            raise SearchError("not a searcher state (expected a dict from Searcher.state_dict())")
        if state.get("version", 0) > STATE_VERSION:
            raise SearchError(f"searcher state version {state.get('version')} is newer than this code understands")
        if state.get("method") != self.method:
            raise SearchError(f"this state is from a {state.get('method')!r} searcher, not {self.method!r}")
        config = state.get("config") or {}
        if config.get("kind") != self.kind:
            raise SearchError(f"this state is for {str(config.get('kind')).upper()}s, not {self.kind.upper()}s")
        with self._lock:
            self._reset_history()
            for row in state.get("trials", []):
                self._register_row(row)
            self._next_id = max(self._next_id, int(state.get("next_trial_id", self._next_id)))
            order = [int(i) for i in state.get("tell_order", []) if int(i) in self._trials]
            self._tell_order = order
            self._on_change()

    def replay(self, records: Iterable[TrialRecord | Mapping[str, Any]]) -> int:
        """Load a run store's trials into a fresh searcher; returns how many will be re-proposed."""
        with self._lock:
            if self._trials:
                raise SearchError("replay needs a fresh searcher; this one already has trials")
            rows = [_record_row(r) for r in records]
            for row in sorted(rows, key=lambda r: r["trial_id"]):
                self._register_row(row)
            self._on_change()
            return len(self.trials_in("interrupted"))

    def _register_row(self, row: Mapping[str, Any]) -> None:
        try:
            tid = int(row["trial_id"])
            state = str(row.get("state", "done"))
        except (KeyError, TypeError, ValueError):
            raise SearchError(f"a trial row needs an integer 'trial_id', got {row!r:.200}") from None
        if tid in self._trials:
            raise SearchError(f"trial {tid} appears twice in the history")
        arch = self._as_architecture(row.get("architecture"), f"trial {tid}'s architecture")
        modifiers = tuple(_modifier(m, tid) for m in row.get("modifiers") or ())
        mv = row.get("model_view")
        model_view = ModelView(**mv) if isinstance(mv, Mapping) else None
        proposal = Proposal(
            tid, arch, tuple(int(p) for p in row.get("parents") or ()), modifiers, model_view, row.get("origin") or "pool"
        )
        if state == "done":
            self._register(proposal, "done", _check_value(tid, row.get("value")))
        elif state == "failed":
            self._register(proposal, "failed", reason=row.get("failure_reason") or "failed")
        elif state in ("pending", "running", "interrupted"):
            self._register(proposal, "interrupted" if state != "pending" or _from_store(row) else "pending")
        else:
            raise SearchError(f"trial {tid} has unknown state {state!r}")

    # ------------------------------------------------------------------------ explorer
    def snapshot(self, **options: Any) -> dict[str, Any]:
        """JSON-able view for the explorer; NASBOT adds its model's posterior and candidates."""
        with self._lock:
            ids, _, values = self.observations()
            best = self.best()
            snap: dict[str, Any] = {
                "method": self.method,
                "kind": self.kind,
                "direction": self.direction,
                "trial_ids": ids,
                "observed": [float(v) for v in values],
                "best": None if best is None else {"trial_id": best["trial_id"], "value": best["value"]},
                "model": None,
            }
            snap.update(self._snapshot_extra(**options))
            return snap

    def _snapshot_extra(self, **options: Any) -> dict[str, Any]:
        return {}

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} {self.kind} {self.direction} seed={self.seed} "
            f"trials={len(self._trials)} told={len(self.trials_in('done'))}>"
        )


# ---------------------------------------------------------------------------------- helpers
def _check_value(trial_id: Any, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise SearchError(
            f"the value for trial {trial_id} must be a number, got {value!r}; "
            "report failed evaluations with tell_failure(trial_id, reason)"
        )
    v = float(value)
    if not math.isfinite(v):
        raise SearchError(
            f"the value for trial {trial_id} must be finite, got {v}; "
            "report failed evaluations with tell_failure(trial_id, reason)"
        )
    return v


class SearchSpace:
    """Constraints (reference §7.4) and an optional feasibility predicate, checked together."""

    def __init__(self, constraints: Constraints | None, feasible: Callable[[Architecture], bool] | None):
        self.constraints = constraints
        self.feasible = feasible

    def is_satisfied(self, arch: Architecture) -> bool:
        if self.constraints is not None and not self.constraints.is_satisfied(arch):
            return False
        return self.feasible is None or bool(self.feasible(arch))


def _parse_constraints(c: Any) -> Constraints:
    if c is None:
        return Constraints()
    if isinstance(c, Constraints):
        return c
    if isinstance(c, Mapping):
        try:
            return Constraints.from_dict(c)
        except NasbotVizError as err:
            raise SearchError(str(err)) from None
    raise SearchError(f"constraints must be a Constraints or a dict, got {type(c).__name__}")


def _modifier(m: Any, tid: int) -> Any:
    if not isinstance(m, Mapping):
        return m
    from nasbot_viz.arch.modifiers import modifier_from_dict

    try:
        return modifier_from_dict(m)
    except NasbotVizError as err:
        raise SearchError(f"trial {tid}: bad modifier record: {err}") from None


def _record_row(r: Any) -> dict[str, Any]:
    if isinstance(r, TrialRecord):
        return {
            "trial_id": r.trial_id,
            "state": str(r.state),
            "architecture": r.architecture,
            "parents": list(r.parents),
            "modifiers": list(r.modifiers),
            "origin": r.origin,
            "model_view": r.model_view,
            "value": r.value,
            "failure_reason": r.failure_reason,
            "_from_store": True,
        }
    if isinstance(r, Mapping):
        row = dict(r)
        state = row.get("state", "done")
        row["state"] = state.value if isinstance(state, TrialState) else str(state)
        row["_from_store"] = True
        return row
    raise SearchError(f"replay takes TrialRecord rows or their dicts, got {type(r).__name__}")


def _from_store(row: Mapping[str, Any]) -> bool:
    return bool(row.get("_from_store"))
