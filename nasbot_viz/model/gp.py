"""A Gaussian process on architectures with the NASBOT OTMANN kernel (reference §6).

The prior mean is the constant median of the observations; the 11 hyperparameters (noise, two
alphas, eight betas) are fitted by maximising the log marginal likelihood inside the paper's
log-uniform boxes, all relative to Var(Y). We work on standardised targets ``(y − median)/sd(y)``,
where those boxes become absolute.

Tuning (``tuning=``):

* ``"ml"`` (default): 200 log-uniform random draws, then L-BFGS-B with the analytic
  gradient from the best 4, in log space (only among hyperparameters giving a positive-definite
  kernel). It reaches a log-ML at least as high as the authors' scheme in
  a fraction of the time (see ``benchmarks/proposal_latency.py``), so we can afford to re-tune on
  every refit instead of every 7 steps, which also keeps a refit a pure function of the data.
* ``"sampling"``: the authors' ``rand_exp_sampling``: 4400 log-uniform draws, one of them picked
  with probability ∝ exp(log-ML).

The GP never computes a distance itself: it asks a `DistanceCache` (``cache.pairwise(rows,
cols)`` → (8, len(rows), len(cols))), which computes only pairs it has not seen before, so a
refit after each new observation computes one new row of distances.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import scipy.linalg
import scipy.optimize
from threadpoolctl import threadpool_limits

from nasbot_viz.model.kernel import (
    NUM_DISTANCES,
    KernelParams,
    kernel_parts,
    safe_cholesky,
    split_distances,
)

# Log-uniform boxes relative to Var(Y) (reference §6), in the order of the parameter vector.
NOISE_BOUNDS = (0.005, 0.2)
ALPHA_BOUNDS = (0.01, 100.0)
BETA_LP_BOUNDS = (1e-9, 1e-3)
BETA_EMD_BOUNDS = (0.1, 100.0)
PARAM_NAMES = (
    "noise",
    "alpha_lp",
    "alpha_emd",
    *(f"beta_lp{i}" for i in range(4)),
    *(f"beta_emd{i}" for i in range(4)),
)
LOG_BOUNDS = np.log(
    np.array([NOISE_BOUNDS, ALPHA_BOUNDS, ALPHA_BOUNDS, *[BETA_LP_BOUNDS] * 4, *[BETA_EMD_BOUNDS] * 4])
)
NUM_HYPERPARAMETERS = len(PARAM_NAMES)
AUTHORS_NUM_SAMPLES = int(min(1e5, max(500, 400 * NUM_HYPERPARAMETERS)))  # 4400
_LOG_2PI = math.log(2.0 * math.pi)


@dataclass(frozen=True)
class GPHyperparameters:
    """Hyperparameters in standardised units (multiply noise and alphas by Var(Y) for raw units)."""

    noise: float
    kernel: KernelParams

    @classmethod
    def from_vector(cls, theta: np.ndarray) -> "GPHyperparameters":
        p = np.exp(np.asarray(theta, dtype=float))
        return cls(float(p[0]), KernelParams(float(p[1]), float(p[2]), tuple(p[3:7]), tuple(p[7:11])))

    def to_vector(self) -> np.ndarray:
        k = self.kernel
        return np.log(np.array([self.noise, k.alpha_lp, k.alpha_emd, *k.beta_lp, *k.beta_emd], dtype=float))

    def to_dict(self) -> dict[str, Any]:
        return {"noise": float(self.noise), **self.kernel.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> "GPHyperparameters":
        return cls(float(d["noise"]), KernelParams.from_dict(d))


def log_marginal_likelihood_and_grad(
    theta: np.ndarray,
    lp: np.ndarray,
    emd_sq: np.ndarray,
    r: np.ndarray,
    want_grad: bool = True,
    allow_projection: bool = True,
) -> tuple[float, np.ndarray | None]:
    """Log-ML of standardised targets ``r`` and its gradient in log-parameter space.

    The gradient is exact when no PSD projection was needed (tuning never projects).
    """
    hp = GPHyperparameters.from_vector(theta)
    k_lp, k_emd = kernel_parts(lp, emd_sq, hp.kernel)
    chol = safe_cholesky(k_lp + k_emd, hp.noise, allow_projection=allow_projection)
    L = chol.factor
    a = scipy.linalg.cho_solve((L, True), r)
    n = len(r)
    lml = -0.5 * float(r @ a) - float(np.sum(np.log(np.diag(L)))) - 0.5 * n * _LOG_2PI
    if not want_grad:
        return lml, None
    # d lml / d θ = ½ tr((a aᵀ − K⁻¹) dK/dθ)
    inv, info = scipy.linalg.lapack.dpotri(L, lower=1)
    if info != 0:
        raise np.linalg.LinAlgError("could not invert the kernel matrix")
    inv = np.tril(inv) + np.tril(inv, -1).T
    W = np.outer(a, a) - inv
    m_lp = W * k_lp
    m_emd = W * k_emd
    g = np.empty(NUM_HYPERPARAMETERS)
    g[0] = 0.5 * hp.noise * float(np.trace(W))
    g[1] = 0.5 * float(m_lp.sum())
    g[2] = 0.5 * float(m_emd.sum())
    g[3:7] = -0.5 * np.asarray(hp.kernel.beta_lp) * np.tensordot(lp, m_lp, axes=([1, 2], [0, 1]))
    g[7:11] = -0.5 * np.asarray(hp.kernel.beta_emd) * np.tensordot(emd_sq, m_emd, axes=([1, 2], [0, 1]))
    return lml, g


@dataclass(frozen=True)
class TuningReport:
    method: str
    log_ml: float  # standardised units
    evaluations: int
    seconds: float


def tune_hyperparameters(
    lp: np.ndarray,
    emd_sq: np.ndarray,
    r: np.ndarray,
    rng: np.random.Generator,
    method: str = "ml",
    num_random: int = 200,
    num_restarts: int = 4,
    max_iter: int = 60,
    num_samples: int = AUTHORS_NUM_SAMPLES,
) -> tuple[np.ndarray, TuningReport]:
    """Fit θ (log space, standardised units) by marginal likelihood; deterministic given ``rng``."""
    # Small dense algebra: one BLAS thread is faster than two fighting over a busy machine.
    with threadpool_limits(1, user_api="blas"):
        return _tune(lp, emd_sq, r, rng, method, num_random, num_restarts, max_iter, num_samples)


def _tune(
    lp: np.ndarray,
    emd_sq: np.ndarray,
    r: np.ndarray,
    rng: np.random.Generator,
    method: str,
    num_random: int,
    num_restarts: int,
    max_iter: int,
    num_samples: int,
) -> tuple[np.ndarray, TuningReport]:
    import time

    start = time.perf_counter()
    lo, hi = LOG_BOUNDS[:, 0], LOG_BOUNDS[:, 1]
    if method == "sampling":
        thetas = lo + (hi - lo) * rng.random((num_samples, NUM_HYPERPARAMETERS))
        lmls = np.array([_safe_lml(t, lp, emd_sq, r) for t in thetas])
        if not np.isfinite(lmls).any():  # no valid GP anywhere: fall back to the box's centre
            return 0.5 * (lo + hi), TuningReport("sampling", -np.inf, num_samples, time.perf_counter() - start)
        w = np.exp(lmls - np.max(lmls))
        w /= w.sum()
        i = int(rng.choice(len(thetas), p=w))
        return thetas[i], TuningReport("sampling", float(lmls[i]), num_samples, time.perf_counter() - start)
    if method != "ml":
        raise ValueError(f"unknown tuning method {method!r}; use 'ml' or 'sampling'")
    thetas = lo + (hi - lo) * rng.random((num_random, NUM_HYPERPARAMETERS))
    thetas = np.vstack([0.5 * (lo + hi), thetas])
    lmls = np.array([_safe_lml(t, lp, emd_sq, r) for t in thetas])
    evaluations = len(thetas)
    best_theta, best_lml = thetas[int(np.argmax(lmls))], float(np.max(lmls))
    bounds = list(zip(lo, hi))

    def objective(t: np.ndarray) -> tuple[float, np.ndarray]:
        try:
            v, g = log_marginal_likelihood_and_grad(t, lp, emd_sq, r, allow_projection=False)
        except np.linalg.LinAlgError:
            return 1e25, np.zeros_like(t)
        return -v, -g

    for i in np.argsort(-lmls)[:num_restarts]:
        res = scipy.optimize.minimize(
            objective, thetas[i], jac=True, method="L-BFGS-B", bounds=bounds, options={"maxiter": max_iter}
        )
        evaluations += int(res.nfev)
        if res.fun < 1e24 and -res.fun > best_lml:
            best_theta, best_lml = np.clip(res.x, lo, hi), float(-res.fun)
    return best_theta, TuningReport("ml", best_lml, evaluations, time.perf_counter() - start)


def _safe_lml(theta: np.ndarray, lp: np.ndarray, emd_sq: np.ndarray, r: np.ndarray) -> float:
    try:
        return log_marginal_likelihood_and_grad(theta, lp, emd_sq, r, want_grad=False, allow_projection=False)[0]
    except np.linalg.LinAlgError:
        return -np.inf


class OTMANNGP:
    """GP regression on architectures. Targets are maximised: pass −value for a minimisation."""

    def __init__(
        self,
        cache: Any | None = None,
        rng: np.random.Generator | int | None = None,
        *,
        tuning: str = "ml",
        num_random: int = 200,
        num_restarts: int = 4,
        max_iter: int = 60,
        hyperparameters: GPHyperparameters | None = None,
    ):
        if tuning not in ("ml", "sampling"):
            raise ValueError(f"unknown tuning method {tuning!r}; use 'ml' or 'sampling'")
        self._cache = cache
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self.tuning = tuning
        self.num_random = num_random
        self.num_restarts = num_restarts
        self.max_iter = max_iter
        self.fixed_hyperparameters = hyperparameters
        self.hyperparameters: GPHyperparameters | None = None
        self.tuning_report: TuningReport | None = None
        self.train_archs: list[Any] = []
        self._fitted = False

    # ---------------------------------------------------------------------------- distances
    @property
    def cache(self) -> Any:
        if self._cache is None:
            from nasbot_viz.distance import DistanceCache

            self._cache = DistanceCache()
        return self._cache

    def _train_block(self, archs: Sequence[Any]) -> np.ndarray:
        return np.asarray(self.cache.matrix(list(archs)), dtype=float)

    # ---------------------------------------------------------------------------- fitting
    def fit(self, archs: Sequence[Any], y: Sequence[float], hyperparameters: GPHyperparameters | None = None) -> "OTMANNGP":
        """Tune (unless hyperparameters are given) and condition on (archs, y)."""
        archs = list(archs)
        if len(archs) != len(y):
            raise ValueError(f"{len(archs)} architectures but {len(y)} targets")
        if not archs:
            raise ValueError("cannot fit a GP to no observations")
        distances = self._train_block(archs)
        self.fit_distances(distances, y, hyperparameters=hyperparameters)
        self.train_archs = archs
        return self

    def fit_distances(
        self, distances: np.ndarray, y: Sequence[float], hyperparameters: GPHyperparameters | None = None
    ) -> "OTMANNGP":
        """Fit from a precomputed (8, n, n) distance tensor (tests and benchmarks use this)."""
        y = np.asarray(y, dtype=float)
        if not np.all(np.isfinite(y)):
            raise ValueError("GP targets must be finite")
        self.prior_mean = float(np.median(y))
        sd = float(np.std(y)) if len(y) >= 2 else 1.0
        self.scale = sd if sd > 1e-12 else 1.0
        hp = hyperparameters or self.fixed_hyperparameters
        lp, emd_sq = split_distances(distances)
        r = (y - self.prior_mean) / self.scale
        # Small dense algebra: one BLAS thread is faster than two fighting over a busy machine.
        with threadpool_limits(1, user_api="blas"):
            if hp is None:
                theta, self.tuning_report = tune_hyperparameters(
                    lp, emd_sq, r, self.rng, self.tuning, self.num_random, self.num_restarts, self.max_iter
                )
                hp = GPHyperparameters.from_vector(theta)
            self.hyperparameters = hp
            self._condition(distances, y)
        return self

    def _condition(self, distances: np.ndarray, y: np.ndarray) -> None:
        hp = self.hyperparameters
        assert hp is not None
        self._distances = np.asarray(distances, dtype=float)
        self.y = np.asarray(y, dtype=float)
        k_lp, k_emd = kernel_parts(*split_distances(self._distances), hp.kernel)
        chol = safe_cholesky(k_lp + k_emd, hp.noise)
        self.cholesky_method = chol.method
        self._L = chol.factor
        r = (self.y - self.prior_mean) / self.scale
        self._weights = scipy.linalg.cho_solve((self._L, True), r)
        n = len(r)
        self._log_ml_std = (
            -0.5 * float(r @ self._weights) - float(np.sum(np.log(np.diag(self._L)))) - 0.5 * n * _LOG_2PI
        )
        self._fitted = True

    @property
    def num_train(self) -> int:
        return len(self.y) if self._fitted else 0

    def log_marginal_likelihood(self) -> float:
        """Log-ML of the raw targets under the fitted hyperparameters."""
        self._check_fitted()
        return self._log_ml_std - len(self.y) * math.log(self.scale)

    # ---------------------------------------------------------------------------- prediction
    def posterior(self, archs: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation of f (no noise) at any architectures."""
        self._check_fitted()
        archs = list(archs)
        if not archs:
            return np.zeros(0), np.zeros(0)
        cross = np.asarray(self.cache.pairwise(archs, self.train_archs), dtype=float)
        with threadpool_limits(1, user_api="blas"):
            return self.posterior_from_distances(cross)

    def posterior_from_distances(self, cross: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior from (8, m, n) distances between m query points and the training points."""
        self._check_fitted()
        hp = self.hyperparameters
        k_lp, k_emd = kernel_parts(*split_distances(cross), hp.kernel)
        ks = k_lp + k_emd  # (m, n)
        mean = self.prior_mean + self.scale * (ks @ self._weights)
        v = scipy.linalg.solve_triangular(self._L, ks.T, lower=True)
        var = hp.kernel.prior_variance - np.sum(v * v, axis=0)
        std = self.scale * np.sqrt(np.clip(var, 1e-12 * hp.kernel.prior_variance, None))
        return mean, std

    def sample_joint(
        self, archs: Sequence[Any], rng: np.random.Generator, num_samples: int = 1
    ) -> np.ndarray:
        """Joint posterior draws of f at ``archs`` (num_samples × m), for Thompson sampling."""
        self._check_fitted()
        archs = list(archs)
        cross = np.asarray(self.cache.pairwise(archs, self.train_archs), dtype=float)
        among = np.asarray(self.cache.pairwise(archs, archs), dtype=float)
        return self.sample_joint_from_distances(cross, among, rng, num_samples)

    def sample_joint_from_distances(
        self, cross: np.ndarray, among: np.ndarray, rng: np.random.Generator, num_samples: int = 1
    ) -> np.ndarray:
        hp = self.hyperparameters
        k_lp, k_emd = kernel_parts(*split_distances(cross), hp.kernel)
        ks = k_lp + k_emd
        mean = self.prior_mean + self.scale * (ks @ self._weights)
        v = scipy.linalg.solve_triangular(self._L, ks.T, lower=True)
        kss = sum(kernel_parts(*split_distances(among), hp.kernel))
        cov = kss - v.T @ v
        cov = 0.5 * (cov + cov.T)
        # A posterior covariance is PSD in exact arithmetic; repair rounding (or an indefinite kernel).
        chol = safe_cholesky(cov, 1e-9 * hp.kernel.prior_variance)
        z = rng.standard_normal((num_samples, len(mean)))
        return mean[None, :] + self.scale * (z @ chol.factor.T)

    def hallucinate(self, pending: Sequence[Any]) -> "OTMANNGP":
        """A copy conditioned on ``pending`` at its own posterior mean (same hyperparameters).

        The mean is unchanged; the variance shrinks near evaluations still in flight, which is how
        NASBOT's 'hei' keeps asynchronous workers from piling onto one point (reference §9).
        """
        self._check_fitted()
        pending = [p for p in pending if p.id not in {a.id for a in self.train_archs}]
        if not pending:
            return self
        mean, _ = self.posterior(pending)
        other = OTMANNGP.__new__(OTMANNGP)
        other.__dict__.update(self.__dict__)
        archs = self.train_archs + list(pending)
        other.train_archs = archs
        other._condition(self._train_block(archs), np.concatenate([self.y, mean]))
        return other

    def _check_fitted(self) -> None:
        if not self._fitted:
            raise RuntimeError("the GP has not been fitted yet; call fit(archs, y) first")
