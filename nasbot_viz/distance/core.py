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
    paths_ext: np.ndarray  # paths plus a zero row standing for the sink
    masses_ext: np.ndarray  # masses plus a slot for the sink

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
        paths_ext=np.vstack([np.hstack([bkwd, fwd]), np.zeros((1, bkwd.shape[1] * 2))]),
        masses_ext=np.append(masses, 0.0),
    )
    arch._cache["otmann_features"] = feats
    return feats


def check_same_kind(fa: Features, fb: Features) -> None:
    if fa.kind != fb.kind:
        raise KindMismatchError(f"cannot compare a {fa.kind.upper()} with an {fb.kind.upper()}: OTMANN needs one kind")


@lru_cache(maxsize=32)
def _padded_table(kind: str, nap: float) -> np.ndarray:
    """The label table plus a sink index: layer–sink costs nap, sink–sink 0 (§5)."""
    table = label_mismatch_table(kind, nap)
    n = len(table)
    out = np.full((n + 1, n + 1), nap)
    out[:n, :n] = table
    out[n, n] = 0.0
    out.setflags(write=False)
    return out


def mislabel_matrix(fa: Features, fb: Features, nap: float = 1.0) -> np.ndarray:
    """Label-mismatch cost M (n1×n2, inf where labels may not be matched), by table lookup (§3)."""
    table = label_mismatch_table(fa.kind, nap)
    return table.take(fa.labels[:-1], 0).take(fb.labels[:-1], 1)


def struct_matrix(fa: Features, fb: Features) -> np.ndarray:
    """Structural cost S = ½(mean_k |b1-b2| + mean_k |f1-f2|) over path-length categories (§4)."""
    return cdist(fa.paths, fb.paths, "cityblock") / float(fa.paths.shape[1])


@lru_cache(maxsize=32)
def _coeff_arrays(config: OTMANNConfig) -> tuple[np.ndarray, np.ndarray, bool]:
    m = np.asarray(config.mislabel_coeffs)
    return m[:, None, None], np.asarray(config.struct_coeffs)[:, None, None], bool(np.all(m == 1.0))


@dataclass
class RowProblem:
    """The OT programs of one network `a` against several networks, laid side by side.

    Column block j (offsets[j] : offsets[j+1]) holds the (n1+1)×(n2_j+1) costs and the demands of
    the pair (a, b_j), sink last; building them for a whole row takes a fixed number of numpy calls.
    """

    costs: np.ndarray  # (pairs, n1+1, Σ(n2_j+1))
    supplies: np.ndarray  # (J, n1+1) normalised [masses_a, T_j]
    demands: np.ndarray  # (Σ(n2_j+1),) normalised [masses_j, T_a], rescaled to the supplies' sum
    totals: np.ndarray  # (J,) T_a + T_j
    offsets: np.ndarray  # (J+1,)

    def block(self, j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lo, hi = self.offsets[j], self.offsets[j + 1]
        return np.ascontiguousarray(self.costs[:, :, lo:hi]), self.supplies[j], self.demands[lo:hi]


def row_problem(fa: Features, fbs: list[Features], config: OTMANNConfig) -> RowProblem:
    """Costs m·M + s·S with nap sinks and inf replaced (§5), and normalised supplies/demands."""
    n1 = fa.num_layers
    sizes = np.array([fb.num_layers + 1 for fb in fbs])
    offsets = np.zeros(len(fbs) + 1, dtype=np.intp)
    np.cumsum(sizes, out=offsets[1:])
    sinks = offsets[1:] - 1
    labels = np.concatenate([fb.labels for fb in fbs])
    M = _padded_table(fa.kind, config.nap)[fa.labels].take(labels, 1)
    S = np.empty((n1 + 1, offsets[-1]))
    S[:n1] = cdist(fa.paths, np.concatenate([fb.paths_ext for fb in fbs]), "cityblock")
    S[:n1] /= float(fa.paths.shape[1])
    S[n1] = 0.0
    S[:, sinks] = 0.0
    m, s, unit_m = _coeff_arrays(config)
    with np.errstate(invalid="ignore"):
        C = m * M
        C += s * S
    if not unit_m:  # m·nap on the sinks: put back exactly nap
        C[:, n1, :] = config.nap
        C[:, :, sinks] = config.nap
        C[:, n1, sinks] = 0.0
    C[~np.isfinite(C)] = REPLACE_COST_INF_WITH

    A = np.empty((len(fbs), n1 + 1))
    A[:, :n1] = fa.masses
    A[:, n1] = [fb.total for fb in fbs]
    totals = A.sum(axis=1)
    A /= totals[:, None]
    B = np.concatenate([fb.masses_ext for fb in fbs])
    B[sinks] = fa.total
    B /= np.repeat(np.add.reduceat(B, offsets[:-1]), sizes)
    # ot.emd rescales the demands to the supplies' total before calling the C solver.
    B = B * np.repeat(A.sum(axis=1), sizes) / np.repeat(np.add.reduceat(B, offsets[:-1]), sizes)
    return RowProblem(C, A, B, totals, offsets)


def ot_cost_matrices(fa: Features, fb: Features, config: OTMANNConfig) -> np.ndarray:
    """The (pairs, n1+1, n2+1) OT cost matrices of one pair, sink row and column last."""
    return row_problem(fa, [fb], config).block(0)[0]


def solve_row(fa: Features, fbs: list[Features], config: OTMANNConfig, keep_plans: bool = False):
    """Distances (J, 2·pairs) [lp, emd, lp, emd, …] of `fa` against each of `fbs`.

    lp is the optimal cost of the unnormalised program (the plan scaled back by T1+T2), emd =
    lp/(T1+T2). With keep_plans also returns, per pair, the plans and the cost matrices.
    """
    prob = row_problem(fa, fbs, config)
    npairs = prob.costs.shape[0]
    out = np.empty((len(fbs), 2 * npairs))
    kept = []
    emd_c = _pot._emd_c if _pot.HAVE_EMD_C and fa.positive else None
    for j, fb in enumerate(fbs):
        C, a, b = prob.block(j)
        tot = prob.totals[j]
        plans = []
        for k in range(npairs):
            if emd_c is not None and fb.positive:
                G, cost, _u, _v, code = emd_c(a, b, C[k], _pot.MAX_ITER, 1)
                if code != 1:
                    G, cost = _pot.emd_c_checked(a, b, C[k])
                out[j, 2 * k] = tot * cost
            else:
                G = _pot.emd_plan(a, b, C[k])
                out[j, 2 * k] = np.sum((tot * G) * C[k])
            if keep_plans:
                plans.append(tot * G)
        if keep_plans:
            kept.append((plans, C))
    out[:, 1::2] = out[:, 0::2] / prob.totals[:, None]
    if keep_plans:
        return out, kept
    return out


def solve_pair(fa: Features, fb: Features, config: OTMANNConfig, keep_plans: bool = False):
    """All 2·pairs distances of one pair; with keep_plans also (plans, cost matrices)."""
    if keep_plans:
        out, kept = solve_row(fa, [fb], config, keep_plans=True)
        return out[0], kept[0][0], kept[0][1]
    return solve_row(fa, [fb], config)[0]


MAX_ROW_BATCH = 128  # columns solved per row batch (bounds the side-by-side cost arrays)


def solve_many(feats: list[Features], pairs_i: np.ndarray, pairs_j: np.ndarray, config: OTMANNConfig) -> np.ndarray:
    """Distances for pairs (feats[i], feats[j]); shape (len(pairs), 2·pairs), batched by row."""
    pairs_i = np.asarray(pairs_i)
    pairs_j = np.asarray(pairs_j)
    out = np.empty((len(pairs_i), 2 * config.num_pairs))
    if not len(pairs_i):
        return out
    order = np.argsort(pairs_i, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(pairs_i[order]) != 0])
    ends = np.r_[starts[1:], len(order)]
    for s, e in zip(starts.tolist(), ends.tolist()):
        fa = feats[int(pairs_i[order[s]])]
        for b0 in range(s, e, MAX_ROW_BATCH):
            rows = order[b0 : min(e, b0 + MAX_ROW_BATCH)]
            out[rows] = solve_row(fa, [feats[j] for j in pairs_j[rows].tolist()], config)
    return out
