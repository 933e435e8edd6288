"""Frozen records that cross layer boundaries: what the searcher proposes, what a worker returns,
what the store keeps. Plain data only, so they pickle to workers and serialise to JSON."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # records stay importable without the arch package
    from nasbot_viz.arch.architecture import Architecture


class TrialState(str, Enum):
    PENDING = "pending"  # proposed, not yet handed to a worker
    RUNNING = "running"  # a worker has it
    DONE = "done"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # was running when the loop died; re-proposed on resume

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class ModelView:
    """What the model believed about a proposal when it was chosen (NASBOT only)."""

    mean: float
    std: float
    acquisition: float
    acquisition_name: str = "ei"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Proposal:
    """One architecture to evaluate, with its lineage: parent trial ids and the modifiers applied."""

    trial_id: int
    architecture: "Architecture"
    parents: tuple[int, ...] = ()
    modifiers: tuple[Any, ...] = ()  # modifier records (nasbot_viz.arch.modifiers), in order
    model_view: ModelView | None = None
    origin: str = "pool"  # 'pool' (initial pool), 'mutation', 'random', 'resume'

    def modifiers_as_dicts(self) -> list[dict[str, Any]]:
        return [m.to_dict() if hasattr(m, "to_dict") else dict(m) for m in self.modifiers]


@dataclass(frozen=True)
class EpochPoint:
    epoch: int
    train_loss: float
    val_error: float
    seconds: float


@dataclass(frozen=True)
class Result:
    """What an evaluation returns. ``value`` is the objective (validation error); failures carry a reason."""

    value: float | None
    ok: bool = True
    failure_reason: str | None = None
    test_error: float | None = None
    num_params: int | None = None
    flops: int | None = None
    train_seconds: float = 0.0
    epochs: int = 0
    device: str = "cpu"
    curve: tuple[EpochPoint, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.ok and (self.value is None or not math.isfinite(self.value)):
            raise ValueError("a successful result needs a finite value")

    @classmethod
    def failure(cls, reason: str, **kwargs: Any) -> "Result":
        return cls(value=None, ok=False, failure_reason=reason, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["curve"] = [asdict(p) for p in self.curve]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Result":
        d = dict(d)
        d["curve"] = tuple(EpochPoint(**p) for p in d.get("curve", ()))
        return cls(**d)


@dataclass(frozen=True)
class Event:
    """One line of a run's append-only log; ``seq`` is the cursor viewers follow."""

    seq: int
    run_id: str
    kind: str  # 'proposed', 'started', 'done', 'failed', 'interrupted', 'snapshot', 'status', ...
    trial_id: int | None
    time: float
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrialRecord:
    """A trial as the store keeps it: plain JSON-able data (the architecture as its dict)."""

    run_id: str
    trial_id: int
    state: TrialState
    architecture: dict[str, Any]
    arch_id: str
    parents: tuple[int, ...] = ()
    modifiers: tuple[dict[str, Any], ...] = ()
    origin: str = "pool"
    value: float | None = None
    failure_reason: str | None = None
    result: dict[str, Any] | None = None  # Result.to_dict() once finished
    model_view: dict[str, Any] | None = None  # ModelView.to_dict() for NASBOT proposals
    curve: tuple[dict[str, Any], ...] = ()  # per-epoch points, also while running
    worker: str | None = None
    proposed_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
