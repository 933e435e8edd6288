"""A run as portable data: the JSON and CSV that `nasbot-viz export` writes.

JSON: ``{"run": {"run_id", "created_at", "status", "config"}, "trials": [{"trial_id", "state",
"value", "architecture", "arch_id", "parents", "modifiers", "origin", ...}]}``; the lineage of each
trial is its ``parents`` (trial ids) and the ``modifiers`` applied to them, in order. Non-finite
numbers become ``null`` so the output is strict JSON.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict
from typing import Any

from nasbot_viz.records import TrialRecord
from nasbot_viz.store.base import RunStore

CSV_COLUMNS = (
    "trial_id", "state", "value", "origin", "parents", "modifiers", "arch_id", "num_layers", "num_params",
    "test_error", "epochs", "train_seconds", "device", "failure_reason", "worker", "proposed_at", "started_at",
    "finished_at", "architecture",
)


def _strict(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    return value


def trial_dict(t: TrialRecord) -> dict[str, Any]:
    d = asdict(t)
    d["state"] = t.state.value
    d["parents"] = list(t.parents)
    d["modifiers"] = list(t.modifiers)
    d["curve"] = list(t.curve)
    d.pop("run_id")
    return _strict(d)


def export_run(store: RunStore, run_id: str) -> dict[str, Any]:
    """The run and every trial with its lineage, as plain JSON-able data."""
    return {"run": _strict(store.get_run(run_id)), "trials": [trial_dict(t) for t in store.trials(run_id)]}


def modifier_names(modifiers: Any) -> str:
    return ";".join(str(m.get("name", "?")) if isinstance(m, dict) else str(m) for m in modifiers)


def export_json(store: RunStore, run_id: str) -> str:
    return json.dumps(export_run(store, run_id), indent=1, allow_nan=False) + "\n"


def export_csv(store: RunStore, run_id: str) -> str:
    """One row per trial; parents and modifier names are ';'-separated, the architecture is JSON."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for t in store.trials(run_id):
        r = t.result or {}
        row = {
            "trial_id": t.trial_id, "state": t.state.value, "value": t.value, "origin": t.origin,
            "parents": ";".join(str(p) for p in t.parents), "modifiers": modifier_names(t.modifiers),
            "arch_id": t.arch_id, "num_layers": len(t.architecture.get("layers", [])),
            "num_params": r.get("num_params"), "test_error": r.get("test_error"), "epochs": r.get("epochs"),
            "train_seconds": r.get("train_seconds"), "device": r.get("device"), "failure_reason": t.failure_reason,
            "worker": t.worker, "proposed_at": t.proposed_at, "started_at": t.started_at,
            "finished_at": t.finished_at, "architecture": json.dumps(t.architecture, separators=(",", ":")),
        }
        writer.writerow(["" if row[c] is None else row[c] for c in CSV_COLUMNS])
    return buf.getvalue()


__all__ = ["CSV_COLUMNS", "export_csv", "export_json", "export_run", "modifier_names", "trial_dict"]
