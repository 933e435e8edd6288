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

    def __reduce__(self):
        # Workers get the essentials only; the padded copies are rebuilt there.
        return (_rebuild_features, (self.kind, self.labels, self.masses, self.total, self.paths))


def _rebuild_features(kind: str, labels: np.ndarray, masses: np.ndarray, total: float, paths: np.ndarray) -> Features:
    return Features(
        kind=kind,
        labels=labels,
        masses=masses,
        total=total,
        paths=paths,
        positive=bool(np.all(masses > 0)),
        paths_ext=np.vstack([paths, np.zeros((1, paths.shape[1]))]),
        masses_ext=np.append(masses, 0.0),
    )


def features(arch: Architecture) -> Features:
    """Per-architecture quantities, cached on the (immutable) architecture object."""
    cached = arch._cache.get("otmann_features")
    if cached is not None:
        return cached
    vocab = L.LABELS[arch.kind]
    masses = np.ascontiguousarray(layer_masses(arch), dtype=np.float64)
    bkwd, fwd = path_lengths(arch)
    feats = _rebuild_features(
        arch.kind,
        np.array([vocab.index(x) for x in arch.labels] + [len(vocab)], dtype=np.intp),
        masses,
        float(sum(masses.tolist())),
        np.ascontiguousarray(np.hstack([bkwd, fwd]), dtype=np.float64),
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


def _seg_sums(flat: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sums of consecutive segments; one summation order for every layout, so a pair's numbers
    do not depend on which other pairs it was batched with."""
    return np.add.reduceat(flat, starts)


@dataclass
class BatchProblem:
    """The OT programs of one network against several, laid side by side.

    'row' layout: a fixed, b_j varies, block j is columns offsets[j]:offsets[j+1] of `costs`.
    'col' layout: b fixed, a_j varies, block j is rows offsets[j]:offsets[j+1].
    Building a batch takes a fixed number of numpy calls, whatever its size.
    """

    layout: str
    costs: np.ndarray  # (pairs, rows, cols)
    supplies: np.ndarray  # row: (J, n1+1); col: (Σ(n1_j+1),)   normalised [masses_a, T_b]
    demands: np.ndarray  # row: (Σ(n2_j+1),); col: (J, n2+1)  normalised [masses_b, T_a], rescaled
    totals: np.ndarray  # (J,) T_a + T_b
    offsets: np.ndarray  # (J+1,)

    def block(self, j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lo, hi = self.offsets[j], self.offsets[j + 1]
        if self.layout == "row":
            return np.ascontiguousarray(self.costs[:, :, lo:hi]), self.supplies[j], self.demands[lo:hi]
        return self.costs[:, lo:hi, :], self.supplies[lo:hi], self.demands[j]


def _costs(M: np.ndarray, S: np.ndarray, config: OTMANNConfig, sink_rows, sink_cols) -> np.ndarray:
    m, s, unit_m = _coeff_arrays(config)
    with np.errstate(invalid="ignore"):
        C = m * M
        C += s * S
    if not unit_m:  # the tables give m·nap on the sinks: put back exactly nap
        C[:, sink_rows, :] = config.nap
        C[:, :, sink_cols] = config.nap
        C[:, sink_rows[:, None], sink_cols[None, :]] = 0.0
    C[~np.isfinite(C)] = REPLACE_COST_INF_WITH
    return C


def batch_problem(fas: list[Features], fbs: list[Features], config: OTMANNConfig) -> BatchProblem:
    """Costs m·M + s·S with nap sinks and inf replaced, and normalised supplies/demands (§5),
    for one network against several (len(fas) == 1: row layout; len(fbs) == 1: column layout)."""
    K = float(fas[0].paths.shape[1])
    table = _padded_table(fas[0].kind, config.nap)
    if len(fas) == 1:
        fa = fas[0]
        n1 = fa.num_layers
        sizes = np.array([fb.num_layers + 1 for fb in fbs])
        offsets = np.zeros(len(fbs) + 1, dtype=np.intp)
        np.cumsum(sizes, out=offsets[1:])
        sinks = offsets[1:] - 1
        M = table[fa.labels].take(np.concatenate([fb.labels for fb in fbs]), 1)
        S = np.empty((n1 + 1, offsets[-1]))
        S[:n1] = cdist(fa.paths, np.concatenate([fb.paths_ext for fb in fbs]), "cityblock")
        S[:n1] /= K
        S[n1] = 0.0
        S[:, sinks] = 0.0
        C = _costs(M, S, config, np.array([n1]), sinks)
        A = np.empty((len(fbs), n1 + 1))
        A[:, :n1] = fa.masses
        A[:, n1] = [fb.total for fb in fbs]
        totals = _seg_sums(A.ravel(), np.arange(len(fbs)) * (n1 + 1))
        A /= totals[:, None]
        asum = _seg_sums(A.ravel(), np.arange(len(fbs)) * (n1 + 1))
        B = np.concatenate([fb.masses_ext for fb in fbs])
        B[sinks] = fa.total
        B /= np.repeat(_seg_sums(B, offsets[:-1]), sizes)
        # ot.emd rescales the demands to the supplies' total before calling the C solver.
        B = B * np.repeat(asum, sizes) / np.repeat(_seg_sums(B, offsets[:-1]), sizes)
        return BatchProblem("row", C, A, B, totals, offsets)
    fb = fbs[0]
    n2 = fb.num_layers
    sizes = np.array([fa.num_layers + 1 for fa in fas])
    offsets = np.zeros(len(fas) + 1, dtype=np.intp)
    np.cumsum(sizes, out=offsets[1:])
    sinks = offsets[1:] - 1
    M = table[np.concatenate([fa.labels for fa in fas])].take(fb.labels, 1)
    S = np.empty((offsets[-1], n2 + 1))
    S[:, :n2] = cdist(np.concatenate([fa.paths_ext for fa in fas]), fb.paths, "cityblock")
    S[:, :n2] /= K
    S[:, n2] = 0.0
    S[sinks] = 0.0
    C = _costs(M, S, config, sinks, np.array([n2]))
    A = np.concatenate([fa.masses_ext for fa in fas])
    A[sinks] = fb.total
    totals = _seg_sums(A, offsets[:-1])
    A /= np.repeat(totals, sizes)
    asum = _seg_sums(A, offsets[:-1])
    B = np.empty((len(fas), n2 + 1))
    B[:, :n2] = fb.masses
    B[:, n2] = [fa.total for fa in fas]
    starts = np.arange(len(fas)) * (n2 + 1)
    B /= _seg_sums(B.ravel(), starts)[:, None]
    B = B * asum[:, None] / _seg_sums(B.ravel(), starts)[:, None]
    return BatchProblem("col", C, A, B, totals, offsets)


def ot_cost_matrices(fa: Features, fb: Features, config: OTMANNConfig) -> np.ndarray:
    """The (pairs, n1+1, n2+1) OT cost matrices of one pair, sink row and column last."""
    return batch_problem([fa], [fb], config).block(0)[0]


def solve_batch(fas: list[Features], fbs: list[Features], config: OTMANNConfig, keep_plans: bool = False):
    """Distances (J, 2·pairs) [lp, emd, lp, emd, …] of one network against several (either side).

    lp is the optimal cost of the unnormalised program (the plan scaled back by T1+T2), emd =
    lp/(T1+T2). With keep_plans also returns, per pair, the plans and the cost matrices.
    """
    prob = batch_problem(fas, fbs, config)
    npairs = prob.costs.shape[0]
    J = len(prob.totals)
    out = np.empty((J, 2 * npairs))
    kept = []
    fast = _pot.HAVE_EMD_C and all(f.positive for f in fas) and all(f.positive for f in fbs)
    emd_c = _pot._emd_c
    for j in range(J):
        C, a, b = prob.block(j)
        tot = prob.totals[j]
        plans = []
        for k in range(npairs):
            if fast:
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
            kept.append((plans, np.ascontiguousarray(C)))
    out[:, 1::2] = out[:, 0::2] / prob.totals[:, None]
    if keep_plans:
        return out, kept
    return out


def solve_pair(fa: Features, fb: Features, config: OTMANNConfig, keep_plans: bool = False):
    """All 2·pairs distances of one pair; with keep_plans also (plans, cost matrices)."""
    if keep_plans:
        out, kept = solve_batch([fa], [fb], config, keep_plans=True)
        return out[0], kept[0][0], kept[0][1]
    return solve_batch([fa], [fb], config)[0]


def group_side(pairs_i: np.ndarray, pairs_j: np.ndarray) -> int:
    """0 to batch pairs by their first network, 1 by their second: whichever repeats more."""
    return 1 if np.unique(pairs_j).size < np.unique(pairs_i).size else 0


MAX_BATCH = 128  # pairs per side-by-side batch (bounds the batch's arrays)


def solve_many(feats: list[Features], pairs_i: np.ndarray, pairs_j: np.ndarray, config: OTMANNConfig) -> np.ndarray:
    """Distances for pairs (feats[i], feats[j]); shape (len(pairs), 2·pairs).

    Pairs sharing a network are solved as one batch; each pair's numbers are the same however
    the pairs are batched (so n_jobs never changes a result).
    """
    pairs_i = np.asarray(pairs_i)
    pairs_j = np.asarray(pairs_j)
    out = np.empty((len(pairs_i), 2 * config.num_pairs))
    if not len(pairs_i):
        return out
    side = group_side(pairs_i, pairs_j)
    key = pairs_j if side else pairs_i
    order = np.argsort(key, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(key[order]) != 0])
    ends = np.r_[starts[1:], len(order)]
    for s, e in zip(starts.tolist(), ends.tolist()):
        shared = [feats[int(key[order[s]])]]
        for b0 in range(s, e, MAX_BATCH):
            rows = order[b0 : min(e, b0 + MAX_BATCH)]
            others = [feats[k] for k in (pairs_i if side else pairs_j)[rows].tolist()]
            out[rows] = solve_batch(others, shared, config) if side else solve_batch(shared, others, config)
    return out
