"""The OTMANN program for one pair (reference §3–§5), on small per-architecture arrays.

Everything here works on `Features` (label indices, masses, path-length tables) rather than on
`Architecture` objects, so that worker processes receive only a few small arrays per network.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial.distance import cdist

from nasbot_viz.arch import labels as L
from nasbot_viz.arch.architecture import Architecture
from nasbot_viz.arch.masses import layer_masses
from nasbot_viz.arch.paths import path_lengths
from nasbot_viz.distance import _pot
from nasbot_viz.distance.config import REPLACE_COST_INF_WITH, OTMANNConfig, label_mismatch_table
from nasbot_viz.errors import NasbotVizError


class KindMismatchError(NasbotVizError, ValueError):
    """OTMANN compares networks of one kind only: a CNN and an MLP have no common labels."""


@dataclass(frozen=True)
class Features:
    """What the OT program needs from one network; computed once per architecture id."""

    kind: str
    labels: np.ndarray  # int indices into labels.LABELS[kind]
    masses: np.ndarray  # float64, layer order
    total: float  # sum of masses, summed as the reference does (Python sum)
    bkwd: np.ndarray  # (n, categories) path lengths to ip
    fwd: np.ndarray  # (n, categories) path lengths to op

    @property
    def num_layers(self) -> int:
        return len(self.masses)


def features(arch: Architecture) -> Features:
    """Per-architecture quantities, cached on the (immutable) architecture object."""
    cached = arch._cache.get("otmann_features")
    if cached is not None:
        return cached
    vocab = L.LABELS[arch.kind]
    masses = np.ascontiguousarray(layer_masses(arch), dtype=np.float64)
    bkwd, fwd = path_lengths(arch)
    feats = Features(
        kind=arch.kind,
        labels=np.array([vocab.index(x) for x in arch.labels], dtype=np.intp),
        masses=masses,
        total=float(sum(masses.tolist())),
        bkwd=np.ascontiguousarray(bkwd, dtype=np.float64),
        fwd=np.ascontiguousarray(fwd, dtype=np.float64),
    )
    arch._cache["otmann_features"] = feats
    return feats


def check_same_kind(fa: Features, fb: Features) -> None:
    if fa.kind != fb.kind:
        raise KindMismatchError(f"cannot compare a {fa.kind.upper()} with an {fb.kind.upper()}: OTMANN needs one kind")


def mislabel_matrix(fa: Features, fb: Features, nap: float = 1.0) -> np.ndarray:
    """Label-mismatch cost M (n1×n2, inf where labels may not be matched), by table lookup (§3)."""
    table = label_mismatch_table(fa.kind, nap)
    return table[fa.labels[:, None], fb.labels[None, :]]


def struct_matrix(fa: Features, fb: Features) -> np.ndarray:
    """Structural cost S = ½(mean_k |b1-b2| + mean_k |f1-f2|) over path-length categories (§4)."""
    k = float(fa.bkwd.shape[1])
    return (cdist(fa.bkwd, fb.bkwd, "cityblock") / k + cdist(fa.fwd, fb.fwd, "cityblock") / k) / 2


def ot_cost_matrices(fa: Features, fb: Features, config: OTMANNConfig) -> np.ndarray:
    """The (pairs, n1+1, n2+1) OT costs m·M + s·S with nap sinks, inf replaced (§5); C-contiguous."""
    M = mislabel_matrix(fa, fb, config.nap)
    S = struct_matrix(fa, fb)
    n1, n2 = M.shape
    m = np.asarray(config.mislabel_coeffs)[:, None, None]
    s = np.asarray(config.struct_coeffs)[:, None, None]
    C = np.empty((len(config.mislabel_coeffs), n1 + 1, n2 + 1))
    with np.errstate(invalid="ignore"):
        C[:, :n1, :n2] = m * M + s * S
    C[:, n1, :] = config.nap
    C[:, :, n2] = config.nap
    C[:, n1, n2] = 0.0
    C[~np.isfinite(C)] = REPLACE_COST_INF_WITH
    return C


def supplies_demands(fa: Features, fb: Features) -> tuple[np.ndarray, np.ndarray, float]:
    """Normalised supplies [masses1, T2] and demands [masses2, T1], and the total T1+T2 (§5)."""
    supply = np.append(fa.masses, fb.total)
    demand = np.append(fb.masses, fa.total)
    tot = supply.sum()
    return supply / tot, demand / demand.sum(), float(tot)


def solve_pair(fa: Features, fb: Features, config: OTMANNConfig, keep_plans: bool = False):
    """All 2·pairs distances [lp, emd, lp, emd, …] for one pair; with keep_plans also (plans, costs)."""
    C = ot_cost_matrices(fa, fb, config)
    a, b, tot = supplies_demands(fa, fb)
    out = np.empty(2 * C.shape[0])
    plans = []
    for k in range(C.shape[0]):
        T = tot * _pot.emd_plan(a, b, C[k])
        lp = float(np.sum(T * C[k]))
        out[2 * k] = lp
        out[2 * k + 1] = lp / tot
        if keep_plans:
            plans.append(T)
    if keep_plans:
        return out, plans, C
    return out


def solve_many(feats: list[Features], pairs_i: np.ndarray, pairs_j: np.ndarray, config: OTMANNConfig) -> np.ndarray:
    """Distances for pairs (feats[i], feats[j]); shape (len(pairs), 2·pairs). Diagonal pairs give 0."""
    out = np.empty((len(pairs_i), 2 * config.num_pairs))
    for r, (i, j) in enumerate(zip(pairs_i.tolist(), pairs_j.tolist())):
        out[r] = solve_pair(feats[i], feats[j], config)
    return out
