"""OTMANN speed and exactness against the authors' implementation (dragonfly-opt 0.1.7).

Measures, in one run and side by side: the full 8-variant pairwise matrix for 50, 100 and 200
CNNs, and the cost of adding one network to a set of 300; checks that our distances equal
dragonfly's on all of them (|Δ| ≤ 1e-9·max(1, |d|)). Dragonfly runs in its own venv
(benchmarks/.venv-dragonfly, numpy<2), created on first use, as a subprocess fed JSON networks.

    .venv/bin/python benchmarks/otmann_speed.py            # full run, writes benchmarks/results/
    .venv/bin/python benchmarks/otmann_speed.py --quick    # 20/40 networks, base 60: a smoke run

Not a test: timings depend on the machine and its load; the load average is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-dragonfly"
VENV_PY = VENV / "bin" / "python"
RESULTS = HERE / "results"


def ensure_dragonfly_venv() -> None:
    """Create benchmarks/.venv-dragonfly with dragonfly-opt 0.1.7 and POT if it is missing."""
    if VENV_PY.exists():
        return
    print("creating", VENV, "(one-off, a few minutes)", flush=True)
    pip = str(VENV / "bin" / "pip")
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([pip, "install", "-q", "numpy<2", "scipy<1.14", "setuptools", "wheel"], check=True)
    subprocess.run([pip, "install", "-q", "--no-build-isolation", "dragonfly-opt==0.1.7", "POT"], check=True)


def make_networks(count: int, seed: int) -> tuple[list, str]:
    """`count` distinct CNNs of 8–30 layers: NASBOT-style mutation chains from the library examples
    when the modifiers are available, else the series-parallel random generator."""
    from nasbot_viz.distance.testing import random_networks

    try:
        from nasbot_viz.arch import zoo
        from nasbot_viz.arch.constraints import Constraints
        from nasbot_viz.arch.modifiers import mutate
    except ImportError:
        return random_networks("cnn", count, seed=seed), "nasbot_viz.distance.testing.random_networks"
    rng = np.random.default_rng(seed)
    cons = Constraints(max_num_layers=30, min_num_layers=8)
    pool = [a for a in zoo.library_examples("cnn") if 8 <= a.num_layers <= 30]
    seen = {a.id for a in pool}
    out = []
    while len(out) < count:
        parent = (pool + out)[int(rng.integers(len(pool) + len(out)))]
        got = mutate(parent, rng, cons)
        if got is None:
            continue
        child = got[0]
        if child.id not in seen and 8 <= child.num_layers <= 30:
            seen.add(child.id)
            out.append(child)
    order = rng.permutation(len(out))
    return [out[k] for k in order], "nasbot_viz.arch.modifiers.mutate chains from the library CNNs (seeded)"


def run_dragonfly(nets, sizes, base, newcomers) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "nets.json"
        out = Path(tmp) / "out.npz"
        src.write_text(json.dumps({"networks": [a.to_dict() for a in nets]}))
        cmd = [str(VENV_PY), str(HERE / "_dragonfly_otmann.py"), str(src), str(out),
               ",".join(map(str, sizes)), str(base), str(newcomers)]
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
        subprocess.run(cmd, check=True, env=env)
        with np.load(out) as z:
            return {k: z[k] for k in z.files}


def max_rel_dev(ours: np.ndarray, ref: np.ndarray) -> float:
    return float(np.max(np.abs(ours - ref) / np.maximum(1.0, np.abs(ref))))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="50,100,200")
    ap.add_argument("--base", type=int, default=300)
    ap.add_argument("--newcomers", type=int, default=5)
    ap.add_argument("--seed", type=int, default=2018)
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke run (results not written)")
    ap.add_argument("--no-dragonfly", action="store_true", help="time only our implementation")
    args = ap.parse_args(argv)
    if args.quick:
        args.sizes, args.base, args.newcomers = "20,40", 60, 3
    sizes = [int(s) for s in args.sizes.split(",")]

    from nasbot_viz.distance import VARIANTS, DistanceCache, _parallel

    load_start = os.getloadavg()
    total = max(max(sizes), args.base) + args.newcomers
    t = time.perf_counter()
    nets, generator = make_networks(total, args.seed)
    print(f"{len(nets)} CNNs generated in {time.perf_counter() - t:.1f} s "
          f"(layers {min(a.num_layers for a in nets)}-{max(a.num_layers for a in nets)}, "
          f"median {int(np.median([a.num_layers for a in nets]))})", flush=True)
    base_set = nets[: args.base]
    newcomer_set = nets[args.base : args.base + args.newcomers]

    ref = None
    if not args.no_dragonfly:
        ensure_dragonfly_venv()
        ref = run_dragonfly(nets[: args.base] + newcomer_set, sizes, args.base, args.newcomers)

    # Per-network quantities (masses, path lengths, label indices), computed once per network:
    # timed apart, as dragonfly's network construction is (its `build_s`).
    from nasbot_viz.distance.core import features

    t = time.perf_counter()
    for a in nets[: args.base]:
        features(a)
    t_features = (time.perf_counter() - t) / args.base
    _parallel.warm_up(2)
    rows = []
    worst = 0.0
    for n in sizes:
        X = nets[:n]
        pairs = n * (n - 1) // 2
        t, c = time.perf_counter(), time.process_time()
        m1 = DistanceCache(n_jobs=1).matrix(X)
        t1, c1 = time.perf_counter() - t, time.process_time() - c
        _parallel._ready.result(timeout=300)
        w0 = _parallel.worker_cpu_seconds()
        t, c = time.perf_counter(), time.process_time()
        m2 = DistanceCache(n_jobs=2).matrix(X)
        t2, c2 = time.perf_counter() - t, time.process_time() - c
        w2 = _parallel.worker_cpu_seconds() - w0
        assert np.array_equal(m1, m2), "n_jobs=2 differs from n_jobs=1"
        row = {"task": f"{n}x{n} matrix", "pairs": pairs, "ours_1proc_s": t1, "ours_1proc_cpu_s": c1, "ours_2proc_s": t2,
               "ours_2proc_main_cpu_s": c2, "ours_2proc_worker_cpu_s": w2}
        if ref is not None:
            dev = max_rel_dev(m1, ref[f"matrix_{n}"])
            worst = max(worst, dev)
            row.update(dragonfly_s=float(ref[f"matrix_{n}_s"]), dragonfly_cpu_s=float(ref[f"matrix_{n}_cpu_s"]),
                       max_rel_dev=dev)
        rows.append(row)
        print(row, flush=True)

    # One new network against the set: the set's features are cached and its pairs known; the
    # newcomer's own features are computed inside the timed call, as they would be in a search.
    cache1 = DistanceCache(n_jobs=1)
    cache2 = DistanceCache(n_jobs=2)
    t = time.perf_counter()
    full = cache2.matrix(base_set)
    t_base = time.perf_counter() - t
    cache1.indices(base_set)
    times1, cpu1, times2, got = [], [], [], []
    for k, new in enumerate(newcomer_set):
        t, c = time.perf_counter(), time.process_time()
        r = cache1.pairwise([new], base_set)
        times1.append(time.perf_counter() - t)
        cpu1.append(time.process_time() - c)
        got.append(r[:, 0, :])
        t = time.perf_counter()
        r2 = cache2.pairwise([new], base_set)
        times2.append(time.perf_counter() - t)
        assert np.array_equal(r, r2)
    t = time.perf_counter()
    again = cache2.matrix(base_set)
    t_lookup = time.perf_counter() - t
    assert np.array_equal(again, full)
    row = {"task": f"add 1 to {args.base}", "pairs": args.base, "ours_1proc_s": float(np.median(times1)),
           "ours_1proc_cpu_s": float(np.median(cpu1)), "ours_2proc_s": float(np.median(times2))}
    if ref is not None:
        dev = max_rel_dev(np.array(got), ref["add_one_rows"])
        worst = max(worst, dev)
        row.update(dragonfly_s=float(np.median(ref["add_one_s"])), dragonfly_cpu_s=float(np.median(ref["add_one_cpu_s"])),
                   max_rel_dev=dev)
    rows.append(row)
    print(row, flush=True)

    for row in rows:
        row["ours_1proc_ms_per_pair"] = 1e3 * row["ours_1proc_s"] / row["pairs"]
        row["ours_2proc_ms_per_pair"] = 1e3 * row["ours_2proc_s"] / row["pairs"]
        if "dragonfly_s" in row:
            row["dragonfly_ms_per_pair"] = 1e3 * row["dragonfly_s"] / row["pairs"]
            row["speedup_1proc"] = row["dragonfly_s"] / row["ours_1proc_s"]
            row["speedup_2proc"] = row["dragonfly_s"] / row["ours_2proc_s"]
            row["dragonfly_cpu_ms_per_pair"] = 1e3 * row["dragonfly_cpu_s"] / row["pairs"]
            row["ours_1proc_cpu_ms_per_pair"] = 1e3 * row["ours_1proc_cpu_s"] / row["pairs"]
            row["speedup_cpu_1proc"] = row["dragonfly_cpu_s"] / row["ours_1proc_cpu_s"]

    import ot
    import scipy

    big = next((r for r in rows if r["task"] == f"{max(sizes)}x{max(sizes)} matrix"), None)
    add = rows[-1]
    result = {
        "generated_by": "benchmarks/otmann_speed.py",
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "numpy": np.__version__, "scipy": scipy.__version__, "POT": ot.__version__,
                    "load_average_start": load_start, "load_average_end": os.getloadavg()},
        "networks": {"count": len(nets), "generator": generator, "seed": args.seed,
                     "layers_min": min(a.num_layers for a in nets), "layers_max": max(a.num_layers for a in nets),
                     "layers_median": float(np.median([a.num_layers for a in nets]))},
        "dragonfly": None if ref is None else {"version": "dragonfly-opt 0.1.7", "call":
                     "otmann.get_default_otmann_distance_computer('cnn')(X, X)",
                     "build_ms_per_network": 1e3 * float(ref["build_s"]) / int(ref["num_networks"])},
        "variants": VARIANTS,
        "rows": rows,
        "ours_features_ms_per_network": 1e3 * t_features,
        "ours_base_matrix_2proc_s": t_base,
        "ours_lookup_known_300x300_s": t_lookup,
        "max_rel_dev_vs_dragonfly": worst if ref is not None else None,
        "goals": {
            "exact_to_1e-9": None if ref is None else worst <= 1e-9,
            "speedup_per_pair_at_200_ge_5x_2proc": None if (ref is None or big is None) else big["speedup_2proc"] >= 5,
            "speedup_per_pair_at_200_ge_5x_1proc": None if (ref is None or big is None) else big["speedup_1proc"] >= 5,
            "speedup_per_pair_at_200_ge_5x_cpu_time_1proc": None if (ref is None or big is None)
            else big["speedup_cpu_1proc"] >= 5,
            "add_one_to_300_le_0.1s_2proc": add["ours_2proc_s"] <= 0.1,
            "add_one_to_300_le_0.1s_1proc": add["ours_1proc_s"] <= 0.1,
        },
    }
    print(json.dumps(result["goals"], indent=1))
    if args.quick:
        print("quick run: results not written")
        return 0
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "otmann_speed.json").write_text(json.dumps(result, indent=1))
    (RESULTS / "otmann_speed.md").write_text(markdown(result))
    print("wrote", RESULTS / "otmann_speed.json", "and .md")
    return 0


def markdown(r: dict) -> str:
    m = r["machine"]
    lines = [
        "# OTMANN speed: nasbot_viz vs dragonfly-opt 0.1.7",
        "",
        f"{r['date']}; {m['cpus']} CPUs; Python {m['python']}, numpy {m['numpy']}, POT {m['POT']}; "
        f"load average at start {m['load_average_start'][0]:.2f}, at end {m['load_average_end'][0]:.2f}.",
        f"Networks: {r['networks']['count']} CNNs, {r['networks']['layers_min']}–{r['networks']['layers_max']} layers "
        f"(median {r['networks']['layers_median']:g}), {r['networks']['generator']}, seed {r['networks']['seed']}.",
        "All 8 variants per pair (4 exact OT solves). Per pair = wall time / number of off-diagonal pairs.",
        "",
        "Wall-clock times, and CPU-time per pair (less sensitive to other load on a shared machine).",
        "For 2 processes the CPU seconds of the calling process and of the worker are shown: on an",
        "otherwise idle 2-core machine the wall time would be about the larger of the two.",
        "",
        "| task | pairs | dragonfly | ours, 1 process | ours, 2 processes | dragonfly ms/pair | ours ms/pair (1 / 2 proc) "
        "| wall speed-up (1 / 2 proc) | CPU ms/pair dragonfly / ours | CPU speed-up | 2 proc: CPU main + worker "
        "| max rel. deviation |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in r["rows"]:
        df = row.get("dragonfly_s")
        cells = [
            row["task"],
            str(row["pairs"]),
            "" if df is None else f"{df:.3f} s",
            f"{row['ours_1proc_s']:.3f} s",
            f"{row['ours_2proc_s']:.3f} s",
            "" if df is None else f"{row['dragonfly_ms_per_pair']:.3f}",
            f"{row['ours_1proc_ms_per_pair']:.3f} / {row['ours_2proc_ms_per_pair']:.3f}",
            "" if df is None else f"{row['speedup_1proc']:.1f}× / {row['speedup_2proc']:.1f}×",
            "" if df is None else f"{row['dragonfly_cpu_ms_per_pair']:.3f} / {row['ours_1proc_cpu_ms_per_pair']:.3f}",
            "" if df is None else f"{row['speedup_cpu_1proc']:.1f}×",
            "" if "ours_2proc_worker_cpu_s" not in row
            else f"{row['ours_2proc_main_cpu_s']:.3f} + {row['ours_2proc_worker_cpu_s']:.3f} s",
            "" if "max_rel_dev" not in row else f"{row['max_rel_dev']:.1e}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Re-reading the known 300×300 matrix from the cache: {1e3 * r['ours_lookup_known_300x300_s']:.1f} ms.",
        f"Per-network preparation, not in the matrix timings: ours {r['ours_features_ms_per_network']:.2f} ms "
        "(masses, path lengths, labels)"
        + ("" if r["dragonfly"] is None else f", dragonfly {r['dragonfly']['build_ms_per_network']:.2f} ms (building the network object)")
        + ". The add-one timings include the newcomer's own preparation.",
        "",
        "Goals: " + ", ".join(f"{k}: {'met' if v else ('n/a' if v is None else 'NOT met')}" for k, v in r["goals"].items()),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
