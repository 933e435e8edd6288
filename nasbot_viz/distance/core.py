"""The OTMANN program for one pair (reference §3–§5), on small per-architecture arrays.

Everything here works on `Features` (label indices, masses, path-length tables) rather than on
`Architecture` objects, so that worker processes receive only a few small arrays per network.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

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
    labels: np.ndarray  # int indices into labels.LABELS[kind], then the sink index
    masses: np.ndarray  # float64, layer order
    total: float  # sum of masses, summed as the reference does (Python sum)
    paths: np.ndarray  # (n, 2·categories): backward-to-ip then forward-to-op path lengths
    positive: bool  # every mass > 0 (always true for valid networks)

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
        labels=np.array([vocab.index(x) for x in arch.labels] + [len(vocab)], dtype=np.intp),
        masses=masses,
        total=float(sum(masses.tolist())),
        paths=np.ascontiguousarray(np.hstack([bkwd, fwd]), dtype=np.float64),
        positive=bool(np.all(masses > 0)),
    )
    arch._cache["otmann_features"] = feats
    return feats


def check_same_kind(fa: Features, fb: Features) -> None:
    if fa.kind != fb.kind:
        raise KindMismatchError(f"cannot compare a {fa.kind.upper()} with an {fb.kind.upper()}: OTMANN needs one kind")


@lru_cache(maxsize=32)
def _padded_table(kind: str, nap: float) -> np.ndarray:
    """The label table with one more index, the sink, whose mismatch cost is 0 (nap is added apart)."""
    table = label_mismatch_table(kind, nap)
    n = len(table)
    out = np.zeros((n + 1, n + 1))
    out[:n, :n] = table
    out.setflags(write=False)
    return out


def mislabel_matrix(fa: Features, fb: Features, nap: float = 1.0) -> np.ndarray:
    """Label-mismatch cost M (n1×n2, inf where labels may not be matched), by table lookup (§3)."""
    table = label_mismatch_table(fa.kind, nap)
    return table.take(fa.labels[:-1], 0).take(fb.labels[:-1], 1)


def struct_matrix(fa: Features, fb: Features) -> np.ndarray:
    """Structural cost S = ½(mean_k |b1-b2| + mean_k |f1-f2|) over path-length categories (§4)."""
    return cdist(fa.paths, fb.paths, "cityblock") / float(fa.paths.shape[1])


def ot_cost_matrices(fa: Features, fb: Features, config: OTMANNConfig) -> np.ndarray:
    """The (pairs, n1+1, n2+1) OT costs m·M + s·S with nap sinks, inf replaced (§5); C-contiguous."""
    n1, n2 = fa.num_layers, fb.num_layers
    M = _padded_table(fa.kind, config.nap).take(fa.labels, 0).take(fb.labels, 1)
    S = np.zeros((n1 + 1, n2 + 1))
    S[:n1, :n2] = cdist(fa.paths, fb.paths, "cityblock")
    S[:n1, :n2] /= float(fa.paths.shape[1])
    m, s = _coeff_arrays(config)
    with np.errstate(invalid="ignore"):
        C = m * M
        C += s * S
    C[:, n1, :] = config.nap
    C[:, :, n2] = config.nap
    C[:, n1, n2] = 0.0
    C[~np.isfinite(C)] = REPLACE_COST_INF_WITH
    return C


@lru_cache(maxsize=32)
def _coeff_arrays(config: OTMANNConfig) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.asarray(config.mislabel_coeffs)[:, None, None],
        np.asarray(config.struct_coeffs)[:, None, None],
    )


def supplies_demands(fa: Features, fb: Features) -> tuple[np.ndarray, np.ndarray, float]:
    """Normalised supplies [masses1, T2] and demands [masses2, T1], and the total T1+T2 (§5)."""
    n1, n2 = fa.num_layers, fb.num_layers
    a = np.empty(n1 + 1)
    a[:n1] = fa.masses
    a[n1] = fb.total
    b = np.empty(n2 + 1)
    b[:n2] = fb.masses
    b[n2] = fa.total
    tot = a.sum()
    a /= tot
    b /= b.sum()
    return a, b, float(tot)


def solve_pair(fa: Features, fb: Features, config: OTMANNConfig, keep_plans: bool = False):
    """All 2·pairs distances [lp, emd, lp, emd, …] for one pair; with keep_plans also (plans, costs).

    lp is the optimal cost of the unnormalised program (the plan scaled back by T1+T2), emd = lp/(T1+T2).
    """
    C = ot_cost_matrices(fa, fb, config)
    a, b, tot = supplies_demands(fa, fb)
    n = C.shape[0]
    out = np.empty(2 * n)
    plans = []
    if _pot.HAVE_EMD_C and fa.positive and fb.positive:
        emd_c = _pot._emd_c
        b = b * a.sum() / b.sum()  # exactly what ot.emd does before calling the C solver
        for k in range(n):
            G, cost, _u, _v, code = emd_c(a, b, C[k], _pot.MAX_ITER, 1)
            if code != 1:
                G, cost = _pot.emd_c_checked(a, b, C[k])
            out[2 * k] = tot * cost
            if keep_plans:
                plans.append(tot * G)
    else:
        for k in range(n):
            T = tot * _pot.emd_plan(a, b, C[k])
            out[2 * k] = np.sum(T * C[k])
            if keep_plans:
                plans.append(T)
    out[1::2] = out[0::2] / tot
    if keep_plans:
        return out, plans, C
    return out


def solve_many(feats: list[Features], pairs_i: np.ndarray, pairs_j: np.ndarray, config: OTMANNConfig) -> np.ndarray:
    """Distances for pairs (feats[i], feats[j]); shape (len(pairs), 2·pairs). Diagonal pairs give 0."""
    out = np.empty((len(pairs_i), 2 * config.num_pairs))
    for r, (i, j) in enumerate(zip(pairs_i.tolist(), pairs_j.tolist())):
        out[r] = solve_pair(feats[i], feats[j], config)
    return out
