"""Acquisition functions (reference §9): EI (NASBOT's default), UCB and Thompson sampling.

Each is a small object built from a fitted model and scoring a batch of architectures at once;
higher is better (the model's targets are maximised: a searcher minimising validation error hands
the model −error). The model only needs ``posterior(archs) -> (mean, std)``; pending evaluations
are hallucinated through ``model.hallucinate(pending)`` when the model has it (the authors'
'hei'/'hucb'/'hts'), so a fake model in a test needs nothing more.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol, Sequence

import numpy as np
from scipy.stats import norm

UCB_DIM = 3  # d in β_t for the NN kernel (reference §9)


class PosteriorModel(Protocol):
    def posterior(self, archs: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class AcquisitionValues:
    """Scores with the posterior they came from, so the explorer can show all three."""

    values: np.ndarray
    mean: np.ndarray
    std: np.ndarray


class Acquisition:
    """Base class: ``evaluate(archs)`` → values/mean/std; calling it returns just the values."""

    name: str = "acquisition"

    def evaluate(self, archs: Sequence[Any]) -> AcquisitionValues:
        raise NotImplementedError

    def __call__(self, archs: Sequence[Any]) -> np.ndarray:
        return self.evaluate(archs).values


def _conditioned(model: Any, pending: Sequence[Any]) -> Any:
    pending = list(pending)
    if pending and hasattr(model, "hallucinate"):
        return model.hallucinate(pending)
    return model


def expected_improvement(mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
    """EI for maximisation: (μ − y*)Φ(z) + σφ(z), z = (μ − y*)/σ; exactly max(μ − y*, 0) at σ = 0."""
    mean = np.asarray(mean, dtype=float)
    std = np.asarray(std, dtype=float)
    diff = mean - best
    out = np.maximum(diff, 0.0)
    ok = std > 0
    z = diff[ok] / std[ok]
    out[ok] = diff[ok] * norm.cdf(z) + std[ok] * norm.pdf(z)
    return np.maximum(out, 0.0)


def ucb_beta(t: int, dim: int = UCB_DIM) -> float:
    """β_t = sqrt(0.5·d·log(2·d·t + 1)) (reference §9)."""
    if t < 0:
        raise ValueError(f"t must be non-negative, got {t}")
    return math.sqrt(0.5 * dim * math.log(2 * dim * t + 1))


class ExpectedImprovement(Acquisition):
    """EI over the best observation; pending points are hallucinated at the posterior mean."""

    name = "ei"

    def __init__(self, model: Any, best: float, pending: Sequence[Any] = ()):
        self.model = _conditioned(model, pending)
        self.best = float(best)

    def evaluate(self, archs: Sequence[Any]) -> AcquisitionValues:
        mean, std = self.model.posterior(archs)
        return AcquisitionValues(expected_improvement(mean, std, self.best), mean, std)


class UpperConfidenceBound(Acquisition):
    """μ + β_t·σ with the paper's β_t; pending points hallucinated as for EI."""

    name = "ucb"

    def __init__(self, model: Any, t: int, pending: Sequence[Any] = (), dim: int = UCB_DIM):
        self.model = _conditioned(model, pending)
        self.t = int(t)
        self.beta = ucb_beta(self.t, dim)

    def evaluate(self, archs: Sequence[Any]) -> AcquisitionValues:
        mean, std = self.model.posterior(archs)
        return AcquisitionValues(mean + self.beta * std, mean, std)


class ThompsonSampling(Acquisition):
    """A posterior draw per candidate.

    ``joint=False`` (default) draws each candidate independently from its marginal, which is what
    the authors' GA ends up doing (it scores one network per call). ``joint=True`` draws the batch
    jointly through ``model.sample_joint`` (costs the candidates' mutual distances).
    """

    name = "ts"

    def __init__(self, model: Any, rng: np.random.Generator, pending: Sequence[Any] = (), joint: bool = False):
        self.model = _conditioned(model, pending)
        self.rng = rng
        self.joint = joint

    def evaluate(self, archs: Sequence[Any]) -> AcquisitionValues:
        mean, std = self.model.posterior(archs)
        if self.joint and len(archs) > 1:
            values = np.asarray(self.model.sample_joint(archs, self.rng))[0]
        else:
            values = mean + std * self.rng.standard_normal(len(mean))
        return AcquisitionValues(values, mean, std)


class RandomAcquisition(Acquisition):
    """Uniform random scores: the evolutionary optimiser then performs random modifier walks."""

    name = "random"

    def __init__(self, rng: np.random.Generator):
        self.rng = rng

    def evaluate(self, archs: Sequence[Any]) -> AcquisitionValues:
        n = len(archs)
        return AcquisitionValues(self.rng.random(n), np.full(n, np.nan), np.full(n, np.nan))


ACQUISITIONS = ("ei", "ucb", "ts")


def make_acquisition(
    name: str, model: Any, *, best: float, t: int, rng: np.random.Generator, pending: Sequence[Any] = ()
) -> Acquisition:
    """Build the named acquisition ('ei', 'ucb' or 'ts') for one proposal step."""
    if name == "ei":
        return ExpectedImprovement(model, best, pending)
    if name == "ucb":
        return UpperConfidenceBound(model, t, pending)
    if name == "ts":
        return ThompsonSampling(model, rng, pending)
    raise ValueError(f"unknown acquisition {name!r}; choose one of {list(ACQUISITIONS)}")
