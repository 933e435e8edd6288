"""EI, UCB and Thompson sampling on a fake model, and hallucination on a real GP."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from scipy.stats import norm

from nasbot_viz.acquisition import (
    ExpectedImprovement,
    ThompsonSampling,
    UpperConfidenceBound,
    expected_improvement,
    make_acquisition,
    ucb_beta,
)
from nasbot_viz.model import OTMANNGP


@dataclass(frozen=True)
class Item:
    id: str
    mean: float
    std: float


class FakeModel:
    """posterior() reads the answer off each item; hallucinate() records what it was given."""

    def __init__(self):
        self.hallucinated = None

    def posterior(self, items):
        return np.array([i.mean for i in items], float), np.array([i.std for i in items], float)

    def hallucinate(self, pending):
        other = FakeModel()
        other.hallucinated = list(pending)
        return other

    def sample_joint(self, items, rng, num_samples=1):
        mean, std = self.posterior(items)
        return mean[None, :] + std[None, :] * rng.standard_normal((num_samples, len(items)))


def items(means, stds):
    return [Item(f"i{k}", m, s) for k, (m, s) in enumerate(zip(means, stds))]


def test_ei_is_nonnegative_and_matches_the_closed_form():
    means = np.linspace(-2, 2, 9)
    xs = items(means, np.full(9, 0.7))
    ei = ExpectedImprovement(FakeModel(), best=0.5)(xs)
    assert np.all(ei >= 0)
    z = (means - 0.5) / 0.7
    np.testing.assert_allclose(ei, (means - 0.5) * norm.cdf(z) + 0.7 * norm.pdf(z), rtol=1e-12)


def test_ei_increases_with_mean_and_with_std():
    by_mean = ExpectedImprovement(FakeModel(), best=0.0)(items(np.linspace(-1, 1, 7), np.full(7, 0.3)))
    by_std = ExpectedImprovement(FakeModel(), best=0.0)(items(np.full(7, -0.2), np.linspace(0.01, 2, 7)))
    assert np.all(np.diff(by_mean) > 0)
    assert np.all(np.diff(by_std) > 0)


def test_ei_without_uncertainty_is_the_plain_improvement():
    np.testing.assert_allclose(expected_improvement(np.array([1.0, -1.0]), np.zeros(2), 0.0), [1.0, 0.0])


def test_ei_agrees_with_monte_carlo():
    rng = np.random.default_rng(0)
    draws = 0.3 + 0.8 * rng.standard_normal(400_000)
    mc = np.mean(np.maximum(draws - 0.5, 0))
    assert expected_improvement(np.array([0.3]), np.array([0.8]), 0.5)[0] == pytest.approx(mc, rel=0.01)


def test_ucb_beta_follows_the_paper():
    for t in (1, 10, 100):
        assert ucb_beta(t) == pytest.approx(math.sqrt(0.5 * 3 * math.log(2 * 3 * t + 1)))
    assert ucb_beta(0) == 0.0
    assert ucb_beta(10) < ucb_beta(100)
    with pytest.raises(ValueError):
        ucb_beta(-1)


def test_ucb_is_mean_plus_beta_std():
    xs = items([0.0, 1.0, 1.0], [1.0, 0.0, 2.0])
    acq = UpperConfidenceBound(FakeModel(), t=5)
    np.testing.assert_allclose(acq(xs), [acq.beta, 1.0, 1.0 + 2 * acq.beta])


def test_thompson_sampling_is_reproducible_and_centred_on_the_mean():
    xs = items([0.0, 5.0], [1.0, 0.0])
    a = ThompsonSampling(FakeModel(), np.random.default_rng(3))(xs)
    b = ThompsonSampling(FakeModel(), np.random.default_rng(3))(xs)
    np.testing.assert_array_equal(a, b)
    assert a[1] == 5.0  # no uncertainty, no noise
    many = ThompsonSampling(FakeModel(), np.random.default_rng(0))(items(np.full(20000, 2.0), np.full(20000, 1.0)))
    assert many.mean() == pytest.approx(2.0, abs=0.05) and many.std() == pytest.approx(1.0, abs=0.05)
    joint = ThompsonSampling(FakeModel(), np.random.default_rng(3), joint=True).evaluate(xs)
    assert joint.values.shape == (2,) and joint.values[1] == 5.0


def test_pending_points_are_handed_to_the_model_for_hallucination():
    pend = items([0.0], [1.0])
    for acq in (
        ExpectedImprovement(FakeModel(), 0.0, pending=pend),
        UpperConfidenceBound(FakeModel(), 3, pending=pend),
        ThompsonSampling(FakeModel(), np.random.default_rng(0), pending=pend),
    ):
        assert acq.model.hallucinated == pend
    assert ExpectedImprovement(FakeModel(), 0.0).model.hallucinated is None


def test_evaluate_returns_the_posterior_with_the_values():
    out = ExpectedImprovement(FakeModel(), 0.0).evaluate(items([1.0, 2.0], [0.5, 0.5]))
    np.testing.assert_array_equal(out.mean, [1.0, 2.0])
    np.testing.assert_array_equal(out.std, [0.5, 0.5])


def test_make_acquisition_by_name():
    m = FakeModel()
    rng = np.random.default_rng(0)
    assert isinstance(make_acquisition("ei", m, best=0, t=1, rng=rng), ExpectedImprovement)
    assert isinstance(make_acquisition("ucb", m, best=0, t=1, rng=rng), UpperConfidenceBound)
    assert isinstance(make_acquisition("ts", m, best=0, t=1, rng=rng), ThompsonSampling)
    with pytest.raises(ValueError, match="unknown acquisition 'pi'"):
        make_acquisition("pi", m, best=0, t=1, rng=rng)


# ------------------------------------------------------------------ hallucination on a real GP
@dataclass(frozen=True)
class Pt:
    id: str
    x: float


class LineCache:
    def pairwise(self, rows, cols):
        d = np.abs(np.array([r.x for r in rows])[:, None] - np.array([c.x for c in cols])[None, :])
        return np.stack([400 * d, d / 4] * 4)

    def matrix(self, archs):
        return self.pairwise(archs, archs)


def test_hallucination_lowers_ei_near_pending_points_only():
    train = [Pt(f"t{i}", x) for i, x in enumerate(np.linspace(0, 20, 9))]  # 2.5 apart
    y = [float(i % 2) for i in range(len(train))]  # rough data: short length scale, wide gaps
    gp = OTMANNGP(LineCache(), rng=0).fit(train, y)
    near, far = Pt("near", 3.85), Pt("far", 18.75)
    pending = [Pt("pending", 3.75)]
    best = float(gp.posterior([near])[0][0])  # EI at `near` is then 0.4·σ: it tracks the std
    plain = ExpectedImprovement(gp, best)([near, far])
    halluc = ExpectedImprovement(gp, best, pending=pending)([near, far])
    assert halluc[0] < 0.7 * plain[0]
    assert halluc[1] == pytest.approx(plain[1], rel=0.05, abs=1e-9)
