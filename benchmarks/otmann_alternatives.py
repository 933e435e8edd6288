"""Two exact ways to make a proposal's OTMANN pairs cheaper, measured against the solver we use.

A NASBOT proposal's cost is its candidates × observed OTMANN pairs (`proposal_latency.py`). This
measures, on the pairs such a proposal solves (CNN candidates against a history), whether either
of two exact reformulations could bring a pair under the ~0.1 ms the latency goals need:

- **label-class blocks**: layers whose labels may not be matched (inf mismatch) never share
  mass, and sending mass to the sinks costs nap per side, so the program splits into one
  program per label class (conv/res, pool, fc, softmax, ip, op), each with its own sinks;
  1×1 blocks and blocks whose every cost is ≥ 2·nap are solved in closed form. Reported: the
  end-to-end time, the solver time on the non-trivial blocks alone (the ceiling) and the
  largest difference from the full solve.
- **useful edges only**: for the same reason an edge costing ≥ 2·nap never carries mass in some
  optimum, so POT's sparse simplex (`emd_c_sparse`, POT ≥ 0.9.6) on the remaining third of the
  edges gives the same optimum;
- **plan reuse across structural coefficients**: the optimum is concave in the coefficient, so a
  plan optimal at two coefficients is optimal between them; reported is how often the solver's
  plans coincide (which is when a solve could be skipped).

    .venv/bin/python benchmarks/otmann_alternatives.py   # writes benchmarks/results/otmann_alternatives.{json,md}

Not a test: timings depend on the machine's load, which is recorded.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))

from proposal_latency import history  # noqa: E402

from nasbot_viz.arch import labels as L  # noqa: E402
from nasbot_viz.distance import _pot  # noqa: E402
from nasbot_viz.distance.config import DEFAULT_CONFIG as CFG  # noqa: E402
from nasbot_viz.distance.core import batch_problem, features  # noqa: E402
from ot.lp import emd_wrap  # noqa: E402

TWO_NAP = 2 * CFG.nap


def label_class(label: str) -> int:
    if label.startswith(("conv", "res")):
        return 0
    if label.endswith("pool"):
        return 1
    return {"fc": 2, "softmax": 3, "ip": 4, "op": 5}[label]


CLASS_OF = np.array([label_class(x) for x in L.LABELS["cnn"]])
NUM_CLASSES = 6


def class_slices(f) -> tuple[np.ndarray, np.ndarray]:
    """Layer indices sorted by label class, and where each class starts."""
    c = CLASS_OF[f.labels[:-1]]
    order = np.argsort(c, kind="stable")
    return order, np.searchsorted(c[order], np.arange(NUM_CLASSES + 1))


def block_problems(sa, sb, C, A, B):
    """Yield ('value', v) for closed-form blocks and ('solve', (s, d, M)) for the others."""
    (oa, ba), (ob, bb) = sa, sb
    a, b = A[:-1], B[:-1]
    for k in range(C.shape[0]):
        for c in range(NUM_CLASSES):
            ra, cb = oa[ba[c] : ba[c + 1]], ob[bb[c] : bb[c + 1]]
            na, nb = len(ra), len(cb)
            if na == 0 or nb == 0:
                yield k, "value", CFG.nap * (a[ra].sum() + b[cb].sum())
                continue
            if na == 1 and nb == 1:
                x, ai, bj = C[k][ra[0], cb[0]], a[ra[0]], b[cb[0]]
                yield k, "value", (x * min(ai, bj) + CFG.nap * abs(ai - bj)) if x < TWO_NAP else CFG.nap * (ai + bj)
                continue
            sub = C[k][np.ix_(ra, cb)]
            if sub.min() >= TWO_NAP:
                yield k, "value", CFG.nap * (a[ra].sum() + b[cb].sum())
                continue
            M = np.full((na + 1, nb + 1), CFG.nap)
            M[:na, :nb] = sub
            M[na, nb] = 0.0
            s = np.append(a[ra], b[cb].sum())
            d = np.append(b[cb], a[ra].sum())
            d *= s.sum() / d.sum()
            yield k, "solve", (s, d, M)


def main() -> None:
    load_start = os.getloadavg()[0]
    hist = history(150)
    feats = [features(p.architecture) for p, _ in hist]
    observed, candidates = feats[:100], feats[100:150]
    slices = {id(f): class_slices(f) for f in feats}
    problems = []  # (candidate, observed index, C, A, B) for every pair
    for fa in candidates:
        prob = batch_problem([fa], observed, CFG)
        problems += [(fa, j, *prob.block(j)) for j in range(len(observed))]
    npairs = len(problems)

    t0 = time.perf_counter()
    solutions = [[_pot._emd_c(A, B, C[k], _pot.MAX_ITER, 1) for k in range(C.shape[0])] for _, _, C, A, B in problems]
    full_seconds = time.perf_counter() - t0
    full = np.array([[s[1] for s in sol] for sol in solutions])
    plans_equal = {"0.1=0.25": 0, "0.1=0.61": 0, "0.61=1.5": 0, "0.1=1.5": 0}
    for sol in solutions:
        for key, (i, j) in zip(plans_equal, ((0, 1), (0, 2), (2, 3), (0, 3))):
            plans_equal[key] += bool(np.abs(sol[i][0] - sol[j][0]).max() < 1e-13)

    t0 = time.perf_counter()
    blocks = np.zeros_like(full)
    for p, (fa, j, C, A, B) in enumerate(problems):
        for k, how, x in block_problems(slices[id(fa)], slices[id(observed[j])], C, A, B):
            blocks[p, k] += x if how == "value" else _pot._emd_c(*x, _pot.MAX_ITER, 1)[1]
    block_seconds = time.perf_counter() - t0

    sparse = np.zeros_like(full)
    have_sparse = hasattr(emd_wrap, "emd_c_sparse")
    t0 = time.perf_counter()
    for p, (_, _, C, A, B) in enumerate(problems if have_sparse else []):
        for k in range(C.shape[0]):
            r, c = np.nonzero(C[k] < TWO_NAP)  # the useful edges; the sink edges (nap, 0) are among them
            sparse[p, k] = emd_wrap.emd_c_sparse(A, B, r.astype(np.uint64), c.astype(np.uint64), C[k][r, c], _pot.MAX_ITER)[3]
    sparse_seconds = time.perf_counter() - t0

    hard = [x for fa, j, C, A, B in problems for _, how, x in block_problems(slices[id(fa)], slices[id(observed[j])], C, A, B) if how == "solve"]
    t0 = time.perf_counter()
    for s, d, M in hard:
        _pot._emd_c(s, d, M, _pot.MAX_ITER, 1)
    hard_seconds = time.perf_counter() - t0

    out = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_start": load_start, "load_end": os.getloadavg()[0]},
        "pairs": npairs,
        "ms_per_pair": {
            "full_solve": 1e3 * full_seconds / npairs,
            "label_class_blocks": 1e3 * block_seconds / npairs,
            "blocks_solver_only": 1e3 * hard_seconds / npairs,
            "useful_edges_sparse": 1e3 * sparse_seconds / npairs if have_sparse else None,
        },
        "solver_calls_per_pair": {"full_solve": CFG.num_pairs, "label_class_blocks": len(hard) / npairs},
        "blocks_max_abs_difference": float(np.abs(blocks - full).max()),
        "sparse_max_abs_difference": float(np.abs(sparse - full).max()) if have_sparse else None,
        "plans_coincide_fraction": {k: v / npairs for k, v in plans_equal.items()},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "otmann_alternatives.json").write_text(json.dumps(out, indent=2))
    ms = out["ms_per_pair"]
    md = [
        "# Exact alternatives to one full OT solve per structural coefficient",
        "",
        f"{out['when']}; {out['machine']['cpus']} CPUs, one process; load {load_start:.2f} → {out['machine']['load_end']:.2f}; "
        f"{npairs} pairs (50 CNN candidates × 100 observed), 4 coefficients each.",
        "",
        "| way | ms per pair (4 solves) | solver calls per pair |",
        "|---|---:|---:|",
        f"| full program, POT's C simplex (what we use) | {ms['full_solve']:.3f} | {CFG.num_pairs} |",
        f"| label-class blocks, end to end | {ms['label_class_blocks']:.3f} | {out['solver_calls_per_pair']['label_class_blocks']:.1f} |",
        f"| label-class blocks, solver calls alone (ceiling) | {ms['blocks_solver_only']:.3f} | |",
        f"| useful edges only (cost < 2·nap), POT's sparse simplex | {ms['useful_edges_sparse'] or float('nan'):.3f} | {CFG.num_pairs} |",
        "",
        f"Against the full solve, max |Δ| (normalised distance): blocks {out['blocks_max_abs_difference']:.1e}, "
        f"useful edges {out['sparse_max_abs_difference'] or float('nan'):.1e}.",
        "",
        "Plans that coincide between structural coefficients (a solve could be skipped in between): "
        + ", ".join(f"{k}: {100 * v:.0f} %" for k, v in out["plans_coincide_fraction"].items()),
        "",
    ]
    (RESULTS / "otmann_alternatives.md").write_text("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
