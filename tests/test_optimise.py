"""The evolutionary acquisition optimiser (reference §8) on real networks with a cheap acquisition."""

from __future__ import annotations

import numpy as np
import pytest

from nasbot_viz.arch.constraints import Constraints
from nasbot_viz.arch.zoo import initial_pool
from nasbot_viz.optimise import acquisition_budget, maximise_acquisition, mutations_per_epoch
from nasbot_viz.optimise.evolutionary import parent_probabilities


def depth_acquisition(archs):
    """Prefers deep networks with about 64 units a layer; cheap and deterministic."""
    out = []
    for a in archs:
        units = [u for u in a.units if u]
        out.append(a.num_layers - abs(np.log2(np.mean(units)) - 6))
    return np.array(out, float)


@pytest.mark.parametrize("t, expected", [(0, 50), (1, 50), (4, 50), (16, 100), (100, 250), (400, 500), (10_000, 500)])
def test_budget_is_clip_25_sqrt_t(t, expected):
    assert acquisition_budget(t) == expected


@pytest.mark.parametrize("budget, expected", [(1, 5), (50, 21), (250, 47), (500, 67), (10**5, 100)])
def test_mutations_per_epoch(budget, expected):
    assert mutations_per_epoch(budget) == expected


def test_parent_probabilities_are_exp_scaled_fitness():
    f = np.array([0.0, 1.0, 2.0])
    p = parent_probabilities(f)
    w = np.exp((f - f.mean()) / (2 * f.std()))
    np.testing.assert_allclose(p, w / w.sum())
    np.testing.assert_allclose(parent_probabilities(np.ones(4)), 0.25)
    # A non-finite score counts as the worst finite one.
    np.testing.assert_allclose(parent_probabilities(np.array([-np.inf, 1.0, 2.0])), parent_probabilities(f[[1, 1, 2]]))


@pytest.fixture(scope="module")
def pool():
    return initial_pool("mlp")


def test_optimiser_spends_its_budget_and_returns_the_best_new_network(pool):
    exclude = {a.id for a in pool}
    res = maximise_acquisition(depth_acquisition, pool, np.random.default_rng(0), t=1, constraints=Constraints(), exclude_ids=exclude)
    assert res.budget == 50
    assert len(res.candidates) == 50
    assert [c.parent for c in res.candidates[: len(pool)]] == [None] * len(pool)
    assert not any(c.eligible for c in res.candidates[: len(pool)])
    best = res.best
    assert best is not None and best.eligible and best.architecture.id not in exclude
    assert best.acquisition == max(c.acquisition for c in res.candidates if c.eligible)
    assert len({c.architecture.id for c in res.candidates}) == len(res.candidates)  # no duplicates
    assert all(Constraints().is_satisfied(c.architecture) for c in res.candidates[len(pool):])
    assert best.acquisition > max(depth_acquisition(pool))  # it improved on the pool


def test_lineage_replays_to_the_chosen_network(pool):
    res = maximise_acquisition(depth_acquisition, pool, np.random.default_rng(1), t=30, budget=120)
    root, mods = res.lineage(res.best_index)
    assert res.candidates[root].parent is None and len(mods) >= 1
    arch = res.candidates[root].architecture
    for m in mods:
        arch = m.apply(arch)
    assert arch.id == res.best.architecture.id
    assert max(c.generation for c in res.candidates) >= 2


def test_optimiser_is_deterministic_under_a_seed(pool):
    a = maximise_acquisition(depth_acquisition, pool, np.random.default_rng(5), t=1)
    b = maximise_acquisition(depth_acquisition, pool, np.random.default_rng(5), t=1)
    assert [c.architecture.id for c in a.candidates] == [c.architecture.id for c in b.candidates]
    c = maximise_acquisition(depth_acquisition, pool, np.random.default_rng(6), t=1)
    assert [x.architecture.id for x in a.candidates] != [x.architecture.id for x in c.candidates]


def test_acquisition_objects_keep_their_posterior(pool):
    class WithPosterior:
        def evaluate(self, archs):
            from nasbot_viz.acquisition import AcquisitionValues

            v = depth_acquisition(archs)
            return AcquisitionValues(v, v / 2, np.ones(len(archs)))

    res = maximise_acquisition(WithPosterior(), pool, np.random.default_rng(0), t=1, budget=20)
    assert all(c.mean == pytest.approx(c.acquisition / 2) and c.std == 1.0 for c in res.candidates)


def test_bad_calls_are_refused(pool):
    with pytest.raises(ValueError, match="non-empty pool"):
        maximise_acquisition(depth_acquisition, [], np.random.default_rng(0), t=1)
    with pytest.raises(ValueError, match="budget"):
        maximise_acquisition(depth_acquisition, pool, np.random.default_rng(0), t=1, budget=0)
