"""Seconds per evaluation against parameters and FLOPs, for the library networks on each task.

Each network is trained for a few epochs with one torch thread (as a search worker would be) and
we record seconds per epoch, parameters, multiply-accumulates per example and the validation
error reached. A log-log fit of seconds per epoch against (training examples × MACs) says how
well FLOPs predict cost. Writes benchmarks/results/evaluation_cost.json and .md.

    python benchmarks/evaluation_cost.py                 # CPU, ~3-4 min on a busy 2-core box
    python benchmarks/evaluation_cost.py --device auto   # the GPU when there is one
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nasbot_viz.arch.architecture import Architecture  # noqa: E402
from nasbot_viz.train import evaluate, get_task  # noqa: E402
from nasbot_viz.train.data import load_dataset  # noqa: E402

DEFAULT_TASKS = ["digits-cnn", "mnist1d-cnn", "digits-mlp", "mnist1d-mlp", "tabular-mlp", "synthetic-cnn", "synthetic-mlp"]


def networks(kind: str, pool: bool) -> list[Architecture]:
    try:
        from nasbot_viz.arch import zoo

        nets = zoo.library_examples(kind)
        if pool:
            nets += zoo.initial_pool(kind)
        return nets
    except ImportError:
        path = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / f"otmann_reference_{kind}.json"
        return [Architecture.from_dict(n) for n in json.loads(path.read_text())["networks"]]


def short_name(arch: Architecture) -> str:
    name = arch.name or arch.id
    return name.split(":")[-1] if ":" in name else name


def fit_loglog(xs: list[float], ys: list[float]) -> dict[str, float] | None:
    pts = [(math.log10(x), math.log10(y)) for x, y in zip(xs, ys) if x > 0 and y > 0]
    if len(pts) < 3:
        return None
    a = np.array(pts)
    slope, intercept = np.polyfit(a[:, 0], a[:, 1], 1)
    pred = slope * a[:, 0] + intercept
    ss = ((a[:, 1] - a[:, 1].mean()) ** 2).sum()
    r2 = 1 - ((a[:, 1] - pred) ** 2).sum() / ss if ss > 0 else float("nan")
    return {"slope": float(slope), "intercept": float(intercept), "r2": float(r2), "n": len(pts)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default=",".join(DEFAULT_TASKS))
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--time-limit", type=float, default=12.0, help="seconds per evaluation; slower ones are cut")
    ap.add_argument("--pool", action="store_true", help="also the paper's initial pools (slow on CPU)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "evaluation_cost"))
    args = ap.parse_args(argv)

    rows = []
    started = time.perf_counter()
    for name in args.tasks.split(","):
        task = get_task(name)
        t0 = time.perf_counter()
        n_train = None
        if task.problem != "synthetic":
            n_train = len(load_dataset(task).x_train)  # load (and generate) outside the timings
        load_s = time.perf_counter() - t0
        # warm-up: first call pays for imports and allocator start-up
        evaluate(networks(task.kind, False)[0], task, epochs=1, device=args.device, threads=args.threads)
        for arch in networks(task.kind, args.pool):
            cpu0 = time.process_time()
            r = evaluate(arch, task, epochs=args.epochs, device=args.device, threads=args.threads,
                         time_limit=args.time_limit)
            cpu_s = time.process_time() - cpu0
            done = max(r.epochs, len(r.curve))
            per_epoch = (r.curve[-1].seconds / len(r.curve)) if r.curve else None
            row = {
                "task": name, "network": short_name(arch), "num_params": r.num_params, "flops": r.flops,
                "ok": r.ok, "failure": r.failure_reason, "device": r.device, "epochs": done,
                "seconds": round(r.train_seconds, 4), "cpu_seconds": round(cpu_s, 4),
                "seconds_per_epoch": None if per_epoch is None else round(per_epoch, 4),
                "val_error": r.value, "test_error": r.test_error, "train_examples": n_train,
            }
            rows.append(row)
            status = f"{r.value:.3f}" if r.ok else f"FAILED ({r.failure_reason})"
            print(f"{name:14s} {row['network']:28s} params={r.num_params or 0:>10,} MACs={r.flops or 0:>12,} "
                  f"s/epoch={row['seconds_per_epoch']} val_error={status}", flush=True)
        print(f"{name}: data load {load_s:.2f} s", flush=True)

    fits = {}
    for name in args.tasks.split(","):
        sel = [r for r in rows if r["task"] == name and r["seconds_per_epoch"] and r["train_examples"]]
        fit = fit_loglog([r["flops"] * r["train_examples"] for r in sel], [r["seconds_per_epoch"] for r in sel])
        if fit:
            fits[name] = fit

    result = {
        "benchmark": "evaluation_cost",
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "processor": platform.processor() or platform.machine()},
        "settings": {"epochs": args.epochs, "device": args.device, "threads": args.threads,
                     "time_limit": args.time_limit, "pool": args.pool},
        "rows": rows,
        "loglog_fit_seconds_per_epoch_vs_examples_x_macs": fits,
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    try:
        import torch

        result["machine"]["torch"] = torch.__version__
        result["machine"]["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        pass
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=1))
    out.with_suffix(".md").write_text(markdown(result))
    print(f"wrote {out.with_suffix('.json')} and .md in {result['total_seconds']} s")
    return 0


def markdown(result: dict) -> str:
    s = result["settings"]
    lines = [
        "# Evaluation cost",
        "",
        f"`benchmarks/evaluation_cost.py`: {s['epochs']} epochs per network, device {s['device']}, "
        f"{s['threads']} torch thread(s), time limit {s['time_limit']} s per evaluation "
        f"(machine: {result['machine'].get('processor')}, torch {result['machine'].get('torch')}, "
        f"CUDA {result['machine'].get('cuda')}). Total {result['total_seconds']} s.",
        "",
        "MACs = multiply-accumulates per example (conv and linear layers). s/epoch is wall-clock "
        "seconds per epoch (training plus one validation pass); CPU s is the process CPU time of the "
        "whole evaluation, which is what matters on a shared machine. Validation error after the "
        "epochs run (classification: 1 − accuracy; regression: MSE / variance).",
        "",
        "| task | network | params | MACs | s/epoch | CPU s | val error | note |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in result["rows"]:
        spe = "" if r["seconds_per_epoch"] is None else f"{r['seconds_per_epoch']:.3f}"
        val = "" if r["val_error"] is None else f"{r['val_error']:.3f}"
        lines.append(f"| {r['task']} | {r['network']} | {r['num_params'] or 0:,} | {r['flops'] or 0:,} | "
                     f"{spe} | {r.get('cpu_seconds', 0):.2f} | {val} | {'' if r['ok'] else r['failure']} |")
    lines += ["", "Log-log fit of seconds per epoch against training examples × MACs:", "",
              "| task | slope | R² | n |", "|---|---:|---:|---:|"]
    for name, f in result["loglog_fit_seconds_per_epoch_vs_examples_x_macs"].items():
        lines.append(f"| {name} | {f['slope']:.2f} | {f['r2']:.2f} | {f['n']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
