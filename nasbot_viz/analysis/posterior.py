"""What the GP believed: tables from the loop's model snapshots (plain data, tolerant of gaps).

A snapshot, written when a proposal is chosen, looks like
``{'trial_ids', 'mean', 'std', 'observed', 'candidates': [{'arch', 'mean', 'std', 'acquisition'}],
'chosen': index}``; any key may be missing (random search writes none, older runs fewer).
"""

from __future__ import annotations

import math
from typing import Any, Mapping


def _num(v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan
    return f if math.isfinite(f) else math.nan


def _at(seq: Any, i: int) -> Any:
    try:
        return seq[i]
    except (TypeError, IndexError, KeyError):
        return None


def posterior_rows(snapshot: Mapping[str, Any] | None, observed: Mapping[int, float | None] | None = None) -> list[dict[str, Any]]:
    """One row per architecture the model knew: trial_id, mean, std, observed (NaN when unknown).

    `observed` (trial_id → value from the store) fills in values the snapshot lacks, e.g. results
    that arrived after the snapshot was taken.
    """
    if not snapshot:
        return []
    ids = list(snapshot.get("trial_ids") or [])
    mean, std, obs = snapshot.get("mean"), snapshot.get("std"), snapshot.get("observed")
    rows = []
    for i, tid in enumerate(ids):
        o = _num(_at(obs, i))
        if math.isnan(o) and observed is not None:
            o = _num(observed.get(int(tid)))
        rows.append({"trial_id": int(tid), "mean": _num(_at(mean, i)), "std": abs(_num(_at(std, i))), "observed": o})
    return rows


def candidate_rows(snapshot: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """One row per candidate the acquisition optimiser scored; ``chosen`` marks the pick."""
    if not snapshot:
        return []
    chosen = snapshot.get("chosen")
    rows = []
    for i, c in enumerate(snapshot.get("candidates") or []):
        c = c if isinstance(c, Mapping) else {}
        arch = c.get("arch") if isinstance(c.get("arch"), Mapping) else None
        rows.append({
            "index": i,
            "mean": _num(c.get("mean")),
            "std": abs(_num(c.get("std"))),
            "acquisition": _num(c.get("acquisition")),
            "chosen": chosen == i,
            "layers": len(arch.get("layers", [])) if arch else 0,
            "arch": arch,
        })
    return rows


def summary(snapshot: Mapping[str, Any] | None, trial_id: int | None = None) -> str:
    """One sentence for the caption: what the model knew when it picked this proposal."""
    if not snapshot:
        return "No model snapshot for this trial (initial pool, random search or evolution)."
    n = len(snapshot.get("trial_ids") or [])
    cands = candidate_rows(snapshot)
    chosen = next((c for c in cands if c["chosen"]), None)
    text = f"The GP was fitted on {n} evaluated architecture{'s' if n != 1 else ''}"
    if cands:
        text += f" and scored {len(cands)} candidate{'s' if len(cands) != 1 else ''}"
    if chosen and not math.isnan(chosen["mean"]):
        text += f"; it picked one with predicted {chosen['mean']:.4g} ± {chosen['std']:.2g}"
        if not math.isnan(chosen["acquisition"]):
            text += f" (acquisition {chosen['acquisition']:.3g})"
    return text + "."
