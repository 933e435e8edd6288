"""Plain-data encoding shared by the backends: JSON only (never pickles), numpy values flattened."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, is_dataclass
from typing import Any

from nasbot_viz.errors import StoreError
from nasbot_viz.records import EpochPoint, Proposal, Result, TrialState

_ALLOWED_STATUSES = ("created", "running", "paused", "stopped", "finished", "cancelled", "crashed")


def _default(obj: Any) -> Any:
    """Turn numpy scalars/arrays, tuples of records and enums into JSON-able values."""
    if hasattr(obj, "tolist"):  # numpy arrays and scalars, without importing numpy
        return obj.tolist()
    if is_dataclass(obj) and not isinstance(obj, type):
        return obj.to_dict() if hasattr(obj, "to_dict") else asdict(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if isinstance(obj, TrialState):
        return obj.value
    raise TypeError(f"cannot store a {type(obj).__name__} (stores hold plain data only)")


def dumps(value: Any) -> str:
    try:
        return json.dumps(value, default=_default, separators=(",", ":"))
    except (TypeError, ValueError) as err:
        raise StoreError(f"cannot store value: {err}") from None


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def plain(value: Any) -> Any:
    """A deep plain-data copy (what a reader of another backend would get back)."""
    return json.loads(dumps(value))


def check_status(status: str) -> str:
    if status not in _ALLOWED_STATUSES:
        raise StoreError(f"unknown run status {status!r}; expected one of {', '.join(_ALLOWED_STATUSES)}")
    return status


def proposal_fields(proposal: Proposal) -> dict[str, Any]:
    """The stored columns of a new trial, as plain data."""
    arch = proposal.architecture
    return {
        "architecture": plain(arch.to_dict() if hasattr(arch, "to_dict") else arch),
        "arch_id": str(arch.id if hasattr(arch, "id") else arch.get("id", "")),
        "parents": [int(p) for p in proposal.parents],
        "modifiers": plain(proposal.modifiers_as_dicts()),
        "origin": proposal.origin,
        "model_view": plain(proposal.model_view.to_dict()) if proposal.model_view is not None else None,
    }


def point_dict(point: EpochPoint | dict[str, Any]) -> dict[str, Any]:
    """An epoch point as plain numbers (the hot path of progress reporting: no JSON round trip)."""
    if isinstance(point, dict):
        return plain(point)
    try:
        return {"epoch": int(point.epoch), "train_loss": float(point.train_loss),
                "val_error": float(point.val_error), "seconds": float(point.seconds)}
    except (TypeError, ValueError, AttributeError) as err:
        raise StoreError(f"an epoch point needs numeric epoch, train_loss, val_error, seconds: {err}") from None


def result_dict(result: Result) -> dict[str, Any]:
    return plain(result.to_dict())


def finite_or_none(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
