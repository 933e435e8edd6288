"""Statistical check with fixed seeds: NASBOT beats random modifier walks on a cheap objective.

The objective is a smooth function of what OTMANN sees (depth, total mass, the rectifier/sigmoid
mix), so a GP on OTMANN distances can learn it from a few dozen evaluations while random walks
cannot aim. Averaged over a few seeds with a modest budget; the margin is checked, not timed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from nasbot_viz.arch import labels as L
from nasbot_viz.distance import DistanceCache
from nasbot_viz.search import NASBOT, RandomSearch

SEEDS = (0, 1, 2, 3)
STEPS = 14  # after the 10-network initial pool


def objective(arch) -> float:
    """A 'validation error' to minimise: best at 16 layers, ~2^10 units in total, mostly sigmoids."""
    units = sum(u for u in arch.units if u)
    acts = [lab for lab in arch.labels if lab in L.MLP_RECTIFIERS + L.MLP_SIGMOIDS]
    sigmoid_share = sum(lab in L.MLP_SIGMOIDS for lab in acts) / max(len(acts), 1)
    return abs(arch.num_layers - 16) / 6 + abs(math.log2(units) - 10) / 2 + (1 - sigmoid_share)


def best_after(searcher, steps: int) -> float:
    best = math.inf
    for p in searcher.ask(len(searcher.initial_pool)):
        v = objective(p.architecture)
        searcher.tell(p.trial_id, v)
        best = min(best, v)
    for _ in range(steps):
        [p] = searcher.ask()
        v = objective(p.architecture)
        searcher.tell(p.trial_id, v)
        best = min(best, v)
    return best


def test_nasbot_beats_random_search_on_average():
    cache = DistanceCache(n_jobs=1)
    nasbot = [best_after(NASBOT(kind="mlp", seed=s, acquisition_budget=40, cache=cache, n_jobs=1), STEPS) for s in SEEDS]
    rand = [best_after(RandomSearch(kind="mlp", seed=s), STEPS) for s in SEEDS]
    pool_best = min(objective(a) for a in NASBOT(kind="mlp").initial_pool)
    # Both start from the same pool; NASBOT must improve on it by clearly more than random walks do.
    gain_nasbot = pool_best - np.mean(nasbot)
    gain_random = pool_best - np.mean(rand)
    assert gain_nasbot > 0
    assert gain_nasbot > 1.5 * gain_random, (nasbot, rand, pool_best)
