"""The evolutionary acquisition optimiser of NASBOT (reference §8), as a stateless function.

Start from a pool, score it, then for a budget of ``clip(25·√t, 50, 500)`` acquisition
evaluations repeatedly draw ``int(clip(3·√budget, 5, 100))`` parents (with replacement, from
everything scored so far, ∝ ``exp((f − mean f)/(2·std f))``), mutate each with 1–5 modifier
steps (`nasbot_viz.arch.modifiers.mutate`) and score the children as one batch. The result keeps
every candidate with its parent and modifiers, so the chosen network's lineage back to the pool
can be shown and replayed.

Deviation from the authors' code, which reads its budget as wall-clock seconds (a quirk, §8): the
budget here counts acquisition evaluations, pool members included, as Dragonfly does.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

from nasbot_viz.arch.architecture import Architecture
from nasbot_viz.arch.modifiers import mutate

FITNESS_SCALING = 2.0  # fitness_sampler_scaling_const


def acquisition_budget(t: int) -> int:
    """Acquisition evaluations at step t: clip(25·√t, 50, 500) (25 = min(5, dim)², dim = 5)."""
    return int(np.clip(25.0 * math.sqrt(max(t, 0)), 50, 500))


def mutations_per_epoch(budget: int) -> int:
    return int(np.clip(3.0 * math.sqrt(budget), 5, 100))


@dataclass(frozen=True)
class Candidate:
    """One scored network. ``parent`` indexes the optimiser's candidate list (None: pool member)."""

    architecture: Architecture
    acquisition: float
    mean: float
    std: float
    parent: int | None
    modifiers: tuple[Any, ...]
    generation: int
    eligible: bool  # False for networks already observed or pending (scored, never chosen)


@dataclass(frozen=True)
class OptimiserResult:
    candidates: tuple[Candidate, ...]
    best_index: int | None  # None when no eligible network was found
    budget: int
    mutation_attempts: int
    seconds_scoring: float = 0.0  # in the acquisition (model posterior, new OTMANN distances)
    seconds_mutating: float = 0.0  # in the modifiers

    @property
    def best(self) -> Candidate | None:
        return None if self.best_index is None else self.candidates[self.best_index]

    def lineage(self, index: int) -> tuple[int, tuple[Any, ...]]:
        """(index of the pool ancestor, every modifier applied from it to candidate ``index``)."""
        chain: list[tuple[Any, ...]] = []
        i = index
        while self.candidates[i].parent is not None:
            chain.append(self.candidates[i].modifiers)
            i = self.candidates[i].parent  # type: ignore[assignment]
        mods: tuple[Any, ...] = tuple(m for step in reversed(chain) for m in step)
        return i, mods


def maximise_acquisition(
    acquisition: Any,
    pool: Sequence[Architecture],
    rng: np.random.Generator,
    t: int,
    constraints: Any = None,
    budget: int | None = None,
    exclude_ids: Iterable[str] = (),
) -> OptimiserResult:
    """Maximise ``acquisition`` (callable on a list of networks, or with ``.evaluate``) by evolution.

    Networks whose id is in ``exclude_ids`` (observed, pending, failed) are never returned; as
    children they are discarded unscored, as pool members they are scored and serve as parents.
    """
    budget = acquisition_budget(t) if budget is None else int(budget)
    if budget < 1:
        raise ValueError(f"budget must be at least 1, got {budget}")
    per_epoch = mutations_per_epoch(budget)
    excluded = set(exclude_ids)
    seen: set[str] = set()
    start: list[Architecture] = []
    for arch in pool:
        if arch.id not in seen:
            seen.add(arch.id)
            start.append(arch)
    if not start:
        raise ValueError("the evolutionary optimiser needs a non-empty pool to start from")

    candidates: list[Candidate] = []
    values: list[float] = []
    timers = {"score": 0.0, "mutate": 0.0}

    def score(batch: list[tuple[Architecture, int | None, tuple[Any, ...], int]]) -> None:
        archs = [b[0] for b in batch]
        t0 = time.perf_counter()
        scored = _evaluate(acquisition, archs)
        timers["score"] += time.perf_counter() - t0
        for (arch, parent, mods, gen), v, m, s in zip(batch, *scored):
            v = float(v) if np.isfinite(v) else -np.inf
            candidates.append(
                Candidate(arch, v, float(m), float(s), parent, tuple(mods), gen, arch.id not in excluded)
            )
            values.append(v)

    score([(a, None, (), 0) for a in start])
    attempts = 0
    max_attempts = 10 * budget
    generation = 0
    while len(candidates) < budget and attempts < max_attempts:
        generation += 1
        k = min(per_epoch, budget - len(candidates))
        parents = rng.choice(len(candidates), size=k, p=parent_probabilities(np.asarray(values)))
        batch = []
        t0 = time.perf_counter()
        for p in parents:
            attempts += 1
            out = mutate(candidates[int(p)].architecture, rng, constraints)
            if out is None:
                continue
            child, mods = out
            if child.id in seen or child.id in excluded:
                continue
            seen.add(child.id)
            batch.append((child, int(p), tuple(mods), generation))
        timers["mutate"] += time.perf_counter() - t0
        if batch:
            score(batch)

    eligible = [i for i, c in enumerate(candidates) if c.eligible and np.isfinite(c.acquisition)]
    best = max(eligible, key=lambda i: candidates[i].acquisition) if eligible else None
    return OptimiserResult(tuple(candidates), best, budget, attempts, timers["score"], timers["mutate"])


def _evaluate(acquisition: Any, archs: list[Architecture]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if hasattr(acquisition, "evaluate"):
        out = acquisition.evaluate(archs)
        return np.asarray(out.values, float), np.asarray(out.mean, float), np.asarray(out.std, float)
    v = np.asarray(acquisition(archs), dtype=float)
    nan = np.full(len(archs), np.nan)
    return v, nan, nan


def parent_probabilities(values: np.ndarray) -> np.ndarray:
    """∝ exp((f − mean f)/(2·std f)); uniform when every value is equal."""
    f = np.where(np.isfinite(values), values, np.nan)
    if np.all(np.isnan(f)):
        return np.full(len(values), 1.0 / len(values))
    lo = np.nanmin(f)
    f = np.where(np.isnan(f), lo, f)
    sd = float(np.std(f))
    if sd <= 0 or not np.isfinite(sd):
        return np.full(len(f), 1.0 / len(f))
    z = (f - f.mean()) / (FITNESS_SCALING * sd)
    w = np.exp(z - z.max())
    return w / w.sum()
