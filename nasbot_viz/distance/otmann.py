"""`otmann(a, b)`: the 8 OTMANN distances of one pair, with the transport plans for display."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nasbot_viz.arch.architecture import Architecture
from nasbot_viz.distance.config import DEFAULT_CONFIG, OTMANNConfig
from nasbot_viz.distance.core import check_same_kind, features, solve_pair


@dataclass(frozen=True)
class TransportPlan:
    """Where each layer's mass went for one (mislabel, struct) coefficient pair.

    `matrix` is (n1+1)×(n2+1) in the networks' own mass units: row i sums to layer i's mass of
    `a` (the last row, a's sink, to b's total mass), column j to layer j's mass of `b`.
    """

    mislabel_coeff: float
    struct_coeff: float
    matrix: np.ndarray
    cost: np.ndarray
    masses_a: np.ndarray
    masses_b: np.ndarray
    lp: float
    emd: float

    @property
    def unassigned_a(self) -> np.ndarray:
        """Mass of each layer of `a` left unmatched (sent to b's sink, at cost nap)."""
        return self.matrix[:-1, -1]

    @property
    def unassigned_b(self) -> np.ndarray:
        """Mass of each layer of `b` left unmatched."""
        return self.matrix[-1, :-1]

    def matches(self, threshold: float = 0.0) -> list[tuple[int, int, float]]:
        """Layer-to-layer moves (i in a, j in b, mass) carrying more than `threshold` mass."""
        block = self.matrix[:-1, :-1]
        ii, jj = np.nonzero(block > threshold)
        return [(int(i), int(j), float(block[i, j])) for i, j in zip(ii, jj)]


@dataclass(frozen=True)
class OTMANNResult:
    """Distances keyed by variant name (e.g. 'lp_s0.1') and plans keyed by coefficient pair ('s0.1')."""

    distances: dict[str, float]
    plans: dict[str, TransportPlan]

    def as_vector(self) -> np.ndarray:
        return np.array(list(self.distances.values()))


def otmann(a: Architecture, b: Architecture, config: OTMANNConfig | None = None) -> OTMANNResult:
    """OTMANN distances between two networks of the same kind (reference §5), with their plans."""
    config = config or DEFAULT_CONFIG
    fa, fb = features(a), features(b)
    check_same_kind(fa, fb)
    values, plans, costs = solve_pair(fa, fb, config, keep_plans=True)
    distances = {name: float(v) for name, v in zip(config.variants, values)}
    out_plans = {}
    for k, key in enumerate(config.pair_keys):
        T, C = plans[k], costs[k].copy()
        for arr in (T, C):
            arr.setflags(write=False)
        out_plans[key] = TransportPlan(
            mislabel_coeff=config.mislabel_coeffs[k],
            struct_coeff=config.struct_coeffs[k],
            matrix=T,
            cost=C,
            masses_a=fa.masses,
            masses_b=fb.masses,
            lp=float(values[2 * k]),
            emd=float(values[2 * k + 1]),
        )
    return OTMANNResult(distances=distances, plans=out_plans)
