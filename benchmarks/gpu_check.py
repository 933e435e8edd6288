"""A short check for a machine with a GPU (under 2 minutes): the CUDA training path works, how
much faster it is than the CPU, and that a real CUDA out-of-memory comes back as a failed result.

    python benchmarks/gpu_check.py [--out benchmarks/results/gpu_check.json] [--cpu-threads 4]

Prints one JSON document and writes it to --out. Exit status 0 when every CUDA evaluation that
should succeed did, on the GPU; 1 otherwise; 2 when there is no GPU.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def networks():
    from nasbot_viz.arch import zoo

    small = zoo.small_cnns()
    return [("cnn_1", small[0]), ("cnn_5", small[4]), ("resnet_cnn(3,2,1)", zoo.resnet_cnn(3, 2, 1)),
            ("vgg(2)", zoo.vgg(2))]


def oom_network():
    """Eight 1024-channel convs at full resolution: several GB of activations at batch 4096."""
    from nasbot_viz.arch.architecture import Architecture, Layer

    layers = [Layer("ip")] + [Layer("conv3", 1024, 1) for _ in range(8)] + [Layer("softmax"), Layer("op")]
    return Architecture.create("cnn", layers, [(i, i + 1) for i in range(len(layers) - 1)], "wide8x1024")


def _oom_check(report: dict, torch, evaluate, get_task) -> bool:
    """A real CUDA out-of-memory under a per-process cap of ~1.5 GB: a failed result, then recovery."""
    total = torch.cuda.get_device_properties(0).total_memory
    torch.cuda.set_per_process_memory_fraction(min(1.0, 1.5e9 / total))
    try:
        task = get_task("mnist1d-cnn", batch_size=4096, max_params=100_000_000)
        r = evaluate(oom_network(), task, epochs=1, device="cuda")
        report["oom"] = {"ok": r.ok, "failure": r.failure_reason}
        good = (not r.ok) and bool(r.failure_reason) and r.failure_reason.startswith("out of memory")
        after = evaluate(networks()[0][1], "digits-cnn", epochs=1, device="cuda")
        report["after_oom_ok"] = after.ok
        return good and after.ok
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="GPU smoke check and CPU/GPU timings")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "gpu_check.json"))
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--cpu-threads", type=int, default=4)
    ap.add_argument("--cpu-time-limit", type=float, default=10.0)
    ap.add_argument("--deadline", type=float, default=100.0, help="skip remaining CPU runs after this many s")
    ap.add_argument("--dry-run-cpu", action="store_true",
                    help="exercise this script without a GPU ('cuda' runs go to the CPU; no OOM part)")
    args = ap.parse_args(argv)
    started = time.perf_counter()

    import torch

    from nasbot_viz.train import evaluate, get_task
    from nasbot_viz.train.data import load_dataset

    gpu = "cpu" if args.dry_run_cpu else "cuda"
    report: dict = {"python": platform.python_version(), "torch": torch.__version__,
                    "cuda_available": torch.cuda.is_available(), "runs": []}
    if not torch.cuda.is_available() and not args.dry_run_cpu:
        report["error"] = "no CUDA device visible to torch"
        print(json.dumps(report, indent=1))
        return 2
    report["gpu"] = torch.cuda.get_device_name(0) if gpu == "cuda" else "none (dry run)"
    ok = True
    tasks = ["digits-cnn", "mnist1d-cnn"]
    t0 = time.perf_counter()
    for name in tasks:
        load_dataset(get_task(name))
    report["data_load_seconds"] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    warm = evaluate(networks()[0][1], "digits-cnn", epochs=1, device=gpu)
    report["cuda_warmup_seconds"] = round(time.perf_counter() - t0, 2)
    ok = ok and warm.ok and warm.device == gpu

    for name in tasks:
        for label, arch in networks():
            for slot, device in (("cuda", gpu), ("cpu", "cpu")):
                if slot == "cpu" and time.perf_counter() - started > args.deadline:
                    report["runs"].append({"task": name, "network": label, "slot": slot, "skipped": "deadline"})
                    continue
                r = evaluate(arch, name, epochs=args.epochs, seed=0, device=device,
                             threads=args.cpu_threads if slot == "cpu" else 1,
                             time_limit=args.cpu_time_limit if slot == "cpu" else 60.0)
                row = {"task": name, "network": label, "slot": slot, "device": r.device, "ok": r.ok,
                       "failure": r.failure_reason, "epochs": len(r.curve), "num_params": r.num_params,
                       "flops": r.flops, "seconds": round(r.train_seconds, 3),
                       "seconds_per_epoch": round(r.curve[-1].seconds / len(r.curve), 4) if r.curve else None,
                       "val_error": r.value, "test_error": r.test_error}
                report["runs"].append(row)
                print(json.dumps(row), file=sys.stderr, flush=True)
                if slot == "cuda":
                    ok = ok and r.ok and r.device == gpu

    # repeatability on the GPU (informative: cuDNN may pick non-deterministic kernels)
    a = evaluate(networks()[1][1], "digits-cnn", epochs=2, seed=1, device=gpu)
    b = evaluate(networks()[1][1], "digits-cnn", epochs=2, seed=1, device=gpu)
    report["cuda_repeat_identical"] = [p.train_loss for p in a.curve] == [p.train_loss for p in b.curve]
    report["cuda_repeat_val_errors"] = [a.value, b.value]

    if gpu == "cuda":
        ok = _oom_check(report, torch, evaluate, get_task) and ok
    else:
        report["oom"] = "skipped (dry run)"

    speed = {}
    for name in tasks:
        for label, _ in networks():
            g = next((r for r in report["runs"] if r["task"] == name and r["network"] == label
                      and r["slot"] == "cuda" and r.get("seconds_per_epoch")), None)
            c = next((r for r in report["runs"] if r["task"] == name and r["network"] == label
                      and r["slot"] == "cpu" and r.get("seconds_per_epoch")), None)
            if g and c:
                speed[f"{name}/{label}"] = round(c["seconds_per_epoch"] / g["seconds_per_epoch"], 2)
    report["cpu_over_gpu_seconds_per_epoch"] = speed
    report["all_cuda_ok"] = bool(ok)
    report["total_seconds"] = round(time.perf_counter() - started, 1)
    text = json.dumps(report, indent=1)
    print(text)
    out = Path(args.out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    except OSError as err:
        print(f"could not write {out}: {err}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
