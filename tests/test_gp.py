"""The OTMANN-kernel GP: kernel formula, PSD repair, likelihood and its gradient, posterior."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import scipy.optimize

from nasbot_viz.arch.architecture import Architecture
from nasbot_viz.distance import DistanceCache
from nasbot_viz.model import GPHyperparameters, KernelParams, OTMANNGP, kernel_matrix, project_psd, safe_cholesky
from nasbot_viz.model.gp import LOG_BOUNDS, log_marginal_likelihood_and_grad, tune_hyperparameters
from nasbot_viz.model.kernel import split_distances

from conftest import load_reference


# ----------------------------------------------------------------------------- synthetic inputs
@dataclass(frozen=True)
class Pt:
    """A stand-in 'architecture': a point whose 8 'distances' are Euclidean, so the kernel is PSD."""

    id: str
    x: tuple[float, ...]


class PointCache:
    """Same interface as DistanceCache: (8, rows, cols) distances in VARIANTS order."""

    def __init__(self) -> None:
        self.calls = 0

    def pairwise(self, rows, cols):
        self.calls += 1
        a = np.array([r.x for r in rows], dtype=float).reshape(len(rows), -1)
        b = np.array([c.x for c in cols], dtype=float).reshape(len(cols), -1)
        return fake_distances(a, b)

    def matrix(self, archs):
        return self.pairwise(archs, archs)


def fake_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=-1)
    out = []
    for s in (0.1, 0.25, 0.61, 1.5):
        out.append(400.0 * d * (1 + s))  # lp: unnormalised, mass-sized
        out.append(d * (1 + s) / 2)  # emd: normalised-sized
    return np.stack(out)


def points(n: int, seed: int = 0, dim: int = 2) -> list[Pt]:
    rng = np.random.default_rng(seed)
    return [Pt(f"p{i}", tuple(rng.uniform(0, 3, dim))) for i in range(n)]


def objective(p: Pt) -> float:
    return float(np.sin(2 * p.x[0]) + np.cos(p.x[1]))


# ----------------------------------------------------------------------------- kernel
def test_kernel_matches_the_formula_entry_by_entry():
    rng = np.random.default_rng(1)
    D = rng.uniform(0, 1, (8, 3, 4))
    D[0::2] *= 300
    params = KernelParams(1.5, 0.7, (1e-4, 2e-4, 3e-4, 4e-4), (0.5, 1.0, 2.0, 4.0))
    K = kernel_matrix(D, params)
    i, j = 2, 3
    lp = sum(b * D[2 * k, i, j] for k, b in enumerate(params.beta_lp))
    emd = sum(b * D[2 * k + 1, i, j] ** 2 for k, b in enumerate(params.beta_emd))
    assert K[i, j] == pytest.approx(1.5 * np.exp(-lp) + 0.7 * np.exp(-emd), rel=1e-12)
    assert params.prior_variance == pytest.approx(2.2)


def test_kernel_rejects_a_wrong_distance_tensor():
    with pytest.raises(ValueError, match=r"\(8, n, m\)"):
        kernel_matrix(np.zeros((4, 2, 2)), KernelParams(1, 1, (0,) * 4, (0,) * 4))


def test_cholesky_is_plain_when_the_kernel_is_positive_definite():
    x = np.random.default_rng(0).random((6, 2))
    K = kernel_matrix(fake_distances(x, x), KernelParams(1, 1, (1e-4,) * 4, (1,) * 4))
    res = safe_cholesky(K, 1e-3)
    assert res.method == "cholesky"
    np.testing.assert_allclose(res.factor @ res.factor.T, K + 1e-3 * np.eye(len(K)), atol=1e-10)


def test_psd_repair_projects_an_indefinite_kernel_only_when_cholesky_fails():
    # exp(-d) of a non-metric "distance": the middle point is close to two far-apart points.
    K = np.array([[1.0, 0.95, 0.0], [0.95, 1.0, 0.95], [0.0, 0.95, 1.0]])
    assert np.linalg.eigvalsh(K).min() < -0.3
    res = safe_cholesky(K, 1e-6)
    assert res.method == "projected"
    rebuilt = res.factor @ res.factor.T
    np.testing.assert_allclose(rebuilt, project_psd(K) + 1e-6 * np.eye(3), atol=1e-8)
    assert np.linalg.eigvalsh(project_psd(K)).min() > -1e-12
    with pytest.raises(np.linalg.LinAlgError):
        safe_cholesky(K, 1e-6, allow_projection=False)
    # Enough noise makes it positive definite again: no projection then.
    assert safe_cholesky(K, 0.5).method == "cholesky"


def test_gp_with_fixed_hyperparameters_survives_an_indefinite_kernel():
    D = np.zeros((8, 3, 3))
    D[1::2] = np.array([[0, 0.1, 2.0], [0.1, 0, 0.1], [2.0, 0.1, 0]])  # emd breaks the triangle inequality
    hp = GPHyperparameters(1e-6, KernelParams(1e-3, 1.0, (1e-9,) * 4, (5.0,) * 4))
    gp = OTMANNGP(rng=0, hyperparameters=hp).fit_distances(D, [0.0, 1.0, 0.0])
    assert gp.cholesky_method == "projected"
    mean, std = gp.posterior_from_distances(D)
    assert np.all(np.isfinite(mean)) and np.all(np.isfinite(std))


# ----------------------------------------------------------------------------- likelihood
def test_log_ml_gradient_matches_finite_differences():
    pts = points(15)
    x = np.array([p.x for p in pts])
    lp, emd_sq = split_distances(fake_distances(x, x))
    y = np.array([objective(p) for p in pts])
    r = (y - np.median(y)) / y.std()
    theta = LOG_BOUNDS.mean(axis=1) + 0.2
    _, g = log_marginal_likelihood_and_grad(theta, lp, emd_sq, r)
    numeric = scipy.optimize.approx_fprime(
        theta, lambda t: log_marginal_likelihood_and_grad(t, lp, emd_sq, r, want_grad=False)[0], 1e-6
    )
    np.testing.assert_allclose(g, numeric, rtol=1e-3, atol=1e-4)


def test_ml_tuning_beats_the_authors_sampling_and_stays_in_the_bounds():
    pts = points(40, seed=3)
    x = np.array([p.x for p in pts])
    lp, emd_sq = split_distances(fake_distances(x, x))
    y = np.array([objective(p) for p in pts])
    r = (y - np.median(y)) / y.std()
    theta_ml, rep_ml = tune_hyperparameters(lp, emd_sq, r, np.random.default_rng(0), "ml")
    theta_s, rep_s = tune_hyperparameters(lp, emd_sq, r, np.random.default_rng(0), "sampling", num_samples=500)
    assert rep_ml.log_ml >= rep_s.log_ml - 1e-6
    for theta in (theta_ml, theta_s):
        assert np.all(theta >= LOG_BOUNDS[:, 0] - 1e-9) and np.all(theta <= LOG_BOUNDS[:, 1] + 1e-9)


def test_tuning_is_deterministic_given_the_generator():
    pts = points(20, seed=4)
    y = [objective(p) for p in pts]
    a = OTMANNGP(PointCache(), rng=7).fit(pts, y).hyperparameters
    b = OTMANNGP(PointCache(), rng=7).fit(pts, y).hyperparameters
    assert a == b


# ----------------------------------------------------------------------------- posterior
def test_gp_interpolates_and_its_variance_shrinks_near_observations():
    train = points(30, seed=5)
    y = np.array([objective(p) for p in train])
    gp = OTMANNGP(PointCache(), rng=0).fit(train, y)
    mean, std = gp.posterior(train)
    assert np.max(np.abs(mean - y)) < 0.15 * np.std(y)
    near = [Pt(f"n{i}", (p.x[0] + 0.01, p.x[1])) for i, p in enumerate(train[:5])]
    far = [Pt(f"f{i}", (20.0 + i, 20.0)) for i in range(5)]
    _, std_near = gp.posterior(near)
    _, std_far = gp.posterior(far)
    assert np.all(std_near < 0.5 * std_far.min())
    assert np.all(std < 0.5 * std_far.min())
    # Far from the data the posterior falls back towards the prior mean (the median).
    mean_far, _ = gp.posterior(far)
    np.testing.assert_allclose(mean_far, np.median(y), atol=0.05 * np.std(y))


def test_hallucinating_a_pending_point_keeps_the_mean_and_shrinks_the_std_there():
    train = points(12, seed=6)
    gp = OTMANNGP(PointCache(), rng=0).fit(train, [objective(p) for p in train])
    pending = Pt("pending", (1.5, 1.5))
    m0, s0 = gp.posterior([pending])
    h = gp.hallucinate([pending])
    m1, s1 = h.posterior([pending])
    assert m1[0] == pytest.approx(m0[0], abs=1e-6)
    assert s1[0] < 0.5 * s0[0]
    assert gp.num_train == 12 and h.num_train == 13  # the original is untouched


def test_sample_joint_draws_around_the_posterior():
    train = points(10, seed=8)
    gp = OTMANNGP(PointCache(), rng=0).fit(train, [objective(p) for p in train])
    query = points(4, seed=9)
    mean, std = gp.posterior(query)
    draws = gp.sample_joint(query, np.random.default_rng(0), num_samples=4000)
    assert draws.shape == (4000, 4)
    np.testing.assert_allclose(draws.mean(axis=0), mean, atol=4 * std.max() / np.sqrt(4000) + 1e-6)
    np.testing.assert_allclose(draws.std(axis=0), std, rtol=0.1, atol=1e-6)


def test_gp_on_real_architectures_reuses_cached_distances():
    ref = load_reference("mlp")
    archs = [Architecture.from_dict(n) for n in ref["networks"]]
    y = np.array([a.num_layers / 10 + 0.1 * i for i, a in enumerate(archs)])
    cache = DistanceCache(n_jobs=1)
    gp = OTMANNGP(cache, rng=0).fit(archs[:6], y[:6])
    computed = cache.pairs_computed
    mean, std = gp.posterior(archs[:6])
    assert cache.pairs_computed == computed  # training pairs were cached by the fit
    assert np.max(np.abs(mean - y[:6])) < 0.5 * np.std(y[:6]) + 1e-9
    gp.fit(archs, y)
    assert cache.pairs_computed == len(archs) * (len(archs) - 1) // 2 - _zero_pairs(archs)
    assert np.isfinite(gp.log_marginal_likelihood())


def _zero_pairs(archs) -> int:
    ids = [a.id for a in archs]
    return len(ids) * (len(ids) - 1) // 2 - len({(min(a, b), max(a, b)) for a in ids for b in ids if a != b})


def test_gp_errors_are_clear():
    gp = OTMANNGP(PointCache(), rng=0)
    with pytest.raises(RuntimeError, match="not been fitted"):
        gp.posterior(points(1))
    with pytest.raises(ValueError, match="2 architectures but 3 targets"):
        gp.fit(points(2), [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="finite"):
        gp.fit(points(2), [1.0, float("nan")])
    with pytest.raises(ValueError, match="tuning"):
        OTMANNGP(tuning="grid")
