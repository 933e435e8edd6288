"""Time per NASBOT proposal (GP refit + evolutionary acquisition optimisation, paper's budget).

For n = 25, 50, 100, 200 observed CNNs (random modifier walks from the paper's pool, with a
synthetic objective), a NASBOT searcher is loaded with the history (their n×n distances are
already in the shared cache, as they are in a running search) and asked for a proposal; then the
proposal is told and a second one asked (steady state: distances of earlier candidates are cached).
Each proposal is split into GP refit and acquisition optimisation, with the OTMANN pairs it had to
solve. Also compares hyperparameter tuning: our random-start L-BFGS-B ('ml') against the authors'
4400-sample exp(log-ML) scheme ('sampling'), by log-ML reached and time.

    .venv/bin/python benchmarks/proposal_latency.py            # writes benchmarks/results/proposal_latency.{json,md}
    .venv/bin/python benchmarks/proposal_latency.py --quick    # n = 25, 50 only

Goals: ≤ 2 s per proposal at n = 100, ≤ 5 s at n = 200 (2 cores). Not a test: timings depend on
the machine and its load, so the load average is recorded with them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def objective(arch) -> float:
    units = sum(u for u in arch.units if u)
    return abs(arch.num_layers - 20) / 10 + abs(math.log2(units) - 11) / 3


def history(n: int, seed: int = 0):
    """n CNNs: the initial pool, then random modifier walks (RandomSearch), with objective values."""
    from nasbot_viz.search import RandomSearch

    s = RandomSearch(kind="cnn", seed=seed)
    out = []
    while len(out) < n:
        [p] = s.ask()
        v = objective(p.architecture)
        s.tell(p.trial_id, v)
        out.append((p, v))
    return out


def rows(hist):
    from nasbot_viz.records import TrialRecord, TrialState

    return [
        TrialRecord("bench", p.trial_id, TrialState.DONE, p.architecture.to_dict(), p.architecture.id,
                    p.parents, tuple(p.modifiers_as_dicts()), p.origin, value=v)
        for p, v in hist
    ]


def one_proposal(searcher, cache) -> dict:
    pairs0 = cache.pairs_computed
    t0 = time.perf_counter()
    searcher.fit_model()
    t1 = time.perf_counter()
    [p] = searcher.ask()  # the model is cached: this is the acquisition optimisation
    t2 = time.perf_counter()
    result = searcher._last["result"] if searcher._last else None
    return {
        "seconds": t2 - t0,
        "fit_seconds": t1 - t0,
        "acquisition_seconds": t2 - t1,
        "pairs_solved": cache.pairs_computed - pairs0,
        "candidates": len(result.candidates) if result else 0,
        "scoring_seconds": result.seconds_scoring if result else 0.0,
        "mutating_seconds": result.seconds_mutating if result else 0.0,
        "budget": result.budget if result else 0,
        "proposal": p,
    }


def tuning_comparison(archs, values, cache) -> dict:
    from nasbot_viz.model.gp import split_distances, tune_hyperparameters

    D = cache.matrix(archs)
    lp, emd_sq = split_distances(D)
    y = -np.asarray(values)
    r = (y - np.median(y)) / np.std(y)
    out = {}
    for method in ("ml", "sampling"):
        _, rep = tune_hyperparameters(lp, emd_sq, r, np.random.default_rng(0), method)
        out[method] = {"log_ml": rep.log_ml, "seconds": rep.seconds, "evaluations": rep.evaluations}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--n-jobs", type=int, default=2)
    args = ap.parse_args()
    from nasbot_viz.distance import DistanceCache, warm_up
    from nasbot_viz.search import NASBOT

    sizes = [25, 50] if args.quick else [25, 50, 100, 200]
    load_start = os.getloadavg()[0]
    warm_up(args.n_jobs)
    hist = history(max(sizes) + 1)
    cache = DistanceCache(n_jobs=args.n_jobs)
    records = []
    for n in sizes:
        part = hist[:n]
        t = time.perf_counter()
        cache.matrix([p.architecture for p, _ in part])
        setup = time.perf_counter() - t
        s = NASBOT(kind="cnn", seed=0, cache=cache, n_jobs=args.n_jobs)
        s.replay(rows(part))
        first = one_proposal(s, cache)
        s.tell(first["proposal"].trial_id, objective(first["proposal"].architecture))
        second = one_proposal(s, cache)
        tuning = tuning_comparison([p.architecture for p, _ in part], [v for _, v in part], cache)
        rec = {
            "n": n,
            "history_matrix_seconds": setup,
            "first": {k: v for k, v in first.items() if k != "proposal"},
            "steady": {k: v for k, v in second.items() if k != "proposal"},
            "tuning": tuning,
        }
        records.append(rec)
        print(json.dumps(rec), flush=True)
    load_end = os.getloadavg()[0]
    goals = {}
    for rec in records:
        limit = {100: 2.0, 200: 5.0}.get(rec["n"])
        if limit is not None:
            goals[f"proposal_le_{limit:g}s_at_{rec['n']}"] = max(rec["first"]["seconds"], rec["steady"]["seconds"]) <= limit
    out = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_start": load_start, "load_end": load_end},
        "setup": "CNNs, paper's pool + random modifier walks; NASBOT acquisition='ei', paper's budget clip(25√t,50,500), t = n",
        "n_jobs": args.n_jobs,
        "records": records,
        "goals": goals,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "proposal_latency.json").write_text(json.dumps(out, indent=2))
    (RESULTS / "proposal_latency.md").write_text(markdown(out))
    print(markdown(out))


def markdown(out: dict) -> str:
    m = out["machine"]
    lines = [
        "# NASBOT proposal latency",
        "",
        f"{out['when']}; {m['cpus']} CPUs, Python {m['python']}; distance workers: {out['n_jobs']}; "
        f"load average {m['load_start']:.2f} at start, {m['load_end']:.2f} at end.",
        out["setup"] + ".",
        "First = first proposal on a loaded history; steady = the next one after telling it (cached candidates help).",
        "Columns after the first proposal are for the steady one; ms per pair = scoring time / pairs solved (an upper bound:",
        "scoring also includes the GP posterior).",
        "",
        "| n observed | budget | proposal (first / steady) | GP refit | acquisition opt. (scoring + mutating) | OTMANN pairs solved | ms per pair |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in out["records"]:
        f, s = r["first"], r["steady"]
        per = 1e3 * s["scoring_seconds"] / max(s["pairs_solved"], 1)
        lines.append(
            f"| {r['n']} | {f['budget']} | {f['seconds']:.2f} s / {s['seconds']:.2f} s | {s['fit_seconds']:.2f} s | "
            f"{s['acquisition_seconds']:.2f} s ({s['scoring_seconds']:.2f} + {s['mutating_seconds']:.2f}) | "
            f"{f['pairs_solved']} / {s['pairs_solved']} | {per:.2f} |"
        )
    lines += [
        "",
        "Hyperparameter tuning on the same data (standardised log-ML; higher is better):",
        "",
        "| n | ours ('ml': 201 random draws + L-BFGS-B from the best 4) | authors ('sampling': 4400 draws, pick ∝ exp(log-ML)) |",
        "|---:|---:|---:|",
    ]
    for r in out["records"]:
        a, b = r["tuning"]["ml"], r["tuning"]["sampling"]
        lines.append(
            f"| {r['n']} | {a['log_ml']:.2f} in {a['seconds']:.2f} s ({a['evaluations']} evals) | "
            f"{b['log_ml']:.2f} in {b['seconds']:.2f} s ({b['evaluations']} evals) |"
        )
    lines += ["", "Goals: " + ", ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in out["goals"].items()), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
