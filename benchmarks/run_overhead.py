"""What the run loop and the store cost on top of the evaluations themselves.

1. Loop overhead per trial: `run_search` with a searcher and an objective that cost nothing (the
   result, with a 10-epoch curve streamed as progress, is precomputed), so all that is measured
   is scheduling plus the store writes (proposal, snapshot, start, 10 epochs, result: 14
   transactions a trial). For each store backend and the inline and thread executors; plus an
   end-to-end figure with the real `RandomSearch` and the synthetic objective.
2. Following a 1,000-trial run: a reader catching up from cursor 0, and readers in other
   processes polling `events_since(cursor)` every 50 ms while the writer writes, with the
   writer's own time with and without them (readers must not slow the writer, nor hit
   "database is locked").

Writes benchmarks/results/run_overhead.json and .md.

    python benchmarks/run_overhead.py            # ~1 min on a busy 2-core box
    python benchmarks/run_overhead.py --quick
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nasbot_viz.arch.zoo import initial_pool  # noqa: E402
from nasbot_viz.records import EpochPoint, Proposal, Result  # noqa: E402
from nasbot_viz.run import InlineExecutor, make_executor, run_search  # noqa: E402
from nasbot_viz.store import MemoryStore, open_store  # noqa: E402

EPOCHS = 10
POOL = initial_pool("cnn")
CURVE = tuple(EpochPoint(e, 1.0 / e, 0.5 / e, 0.01 * e) for e in range(1, EPOCHS + 1))
RESULT = Result(value=0.05, num_params=12345, epochs=EPOCHS, curve=CURVE, train_seconds=0.1)
SNAPSHOT = {"trial_ids": list(range(20)), "mean": [0.1] * 20, "std": [0.05] * 20, "acquisition": [0.01] * 20,
            "candidates": [{"arch": POOL[0].to_dict(), "mean": 0.1, "std": 0.05, "acquisition": 0.01}] * 5,
            "chosen": 0}


class FreeSearcher:
    """Costs nothing: hands out pool networks, ignores what it is told."""

    direction = "minimize"

    def __init__(self) -> None:
        self.next_id = 0

    def ask(self, n: int = 1) -> list[Proposal]:
        out = []
        for _ in range(n):
            tid = self.next_id
            self.next_id += 1
            out.append(Proposal(tid, POOL[tid % len(POOL)], parents=(max(0, tid - 1),), modifiers=({"name": "wider"},)))
        return out

    def tell(self, trial_id: int, value: float) -> None:
        pass

    def tell_failure(self, trial_id: int, reason: str) -> None:
        pass

    def snapshot(self) -> dict:
        return SNAPSHOT


def free_evaluate(architecture, task, *, on_progress=None, **kwargs) -> Result:
    if on_progress is not None:
        for p in CURVE:
            on_progress(p)
    return RESULT


# ----------------------------------------------------------------------------- 1. loop overhead
def loop_overhead(trials: int, tmp: Path) -> list[dict]:
    rows = []
    run_search(FreeSearcher(), "free", MemoryStore(), InlineExecutor(), budget_evaluations=20,
               evaluate_fn=free_evaluate)  # warm-up: first-call costs are not overhead
    for backend in ("memory", "sqlite"):
        for kind in ("inline", "thread"):
            store = MemoryStore() if backend == "memory" else open_store(tmp / f"overhead-{kind}.db")
            pool = InlineExecutor() if kind == "inline" else make_executor("thread", 2)
            t0 = time.perf_counter()
            summary = run_search(FreeSearcher(), "free", store, pool, budget_evaluations=trials,
                                 evaluate_fn=free_evaluate)
            seconds = time.perf_counter() - t0
            events = len(store.events_since(summary.run_id))
            store.close()
            if kind == "thread":
                pool.shutdown()
            rows.append({"store": backend, "executor": kind if kind == "inline" else "thread x2", "trials": trials,
                         "seconds": seconds, "ms_per_trial": 1000 * seconds / trials,
                         "events_per_trial": events / trials, "ms_per_write": 1000 * seconds / events})
            print(f"  loop {backend:6s} {rows[-1]['executor']:10s}: {rows[-1]['ms_per_trial']:.2f} ms/trial "
                  f"({rows[-1]['events_per_trial']:.0f} writes/trial)", flush=True)
    from nasbot_viz.search import RandomSearch
    from nasbot_viz.train import get_task

    store = open_store(tmp / "random.db")
    t0 = time.perf_counter()
    summary = run_search(RandomSearch(kind="cnn", seed=0), get_task("synthetic-cnn"), store, InlineExecutor(),
                         budget_evaluations=trials)
    seconds = time.perf_counter() - t0
    store.close()
    rows.append({"store": "sqlite", "executor": "inline", "trials": trials, "seconds": seconds,
                 "ms_per_trial": 1000 * seconds / trials, "note": "RandomSearch + synthetic-cnn objective",
                 "done": summary.done})
    print(f"  end to end (RandomSearch + synthetic objective): {rows[-1]['ms_per_trial']:.2f} ms/trial", flush=True)
    return rows


# ----------------------------------------------------------------------------- 2. following a run
def write_run(path: str, trials: int, ready_dir: str | None, readers: int, out: "mp.Queue") -> None:
    """The writer: one 1,000-trial run at full speed (waits until the readers are polling)."""
    store = open_store(path)
    run_id = store.create_run({"task": "benchmark"}, run_id="bench")
    if ready_dir:
        deadline = time.time() + 120
        while len(os.listdir(ready_dir)) < readers and time.time() < deadline:
            time.sleep(0.01)
    t0 = time.perf_counter()
    for tid in range(trials):
        store.add_trial(run_id, Proposal(tid, POOL[tid % len(POOL)], parents=(max(0, tid - 1),)))
        store.add_snapshot(run_id, tid, SNAPSHOT)
        store.mark_running(run_id, tid, "thread-0")
        for p in CURVE:
            store.record_progress(run_id, tid, p)
        store.record_result(run_id, tid, RESULT)
    store.set_run_status(run_id, "finished")
    out.put(time.perf_counter() - t0)
    store.close()


def follow_run(path: str, ready_dir: str, idx: int, out: "mp.Queue") -> None:
    """A viewer in another process: poll events_since every 50 ms until the run finishes."""
    while True:
        try:
            store = open_store(path, readonly=True)
            store.get_run("bench")
            break
        except Exception:  # noqa: BLE001 - not created yet
            time.sleep(0.01)
    Path(ready_dir, str(idx)).touch()
    cursor, events, polls, latencies, errors = 0, 0, 0, [], 0
    cpu0 = time.process_time()
    finished = False
    while not finished:
        t0 = time.perf_counter()
        try:
            batch = store.events_since("bench", cursor)
        except Exception as err:  # noqa: BLE001 - counted: must stay 0
            errors += 1
            print("reader error:", err, file=sys.stderr)
            batch = []
        latencies.append(time.perf_counter() - t0)
        polls += 1
        if batch:
            cursor = batch[-1].seq
            events += len(batch)
            finished = any(e.kind == "status" and e.payload.get("status") == "finished" for e in batch)
        if not finished:
            time.sleep(0.05)
    out.put({"events": events, "polls": polls, "errors": errors, "cpu_seconds": time.process_time() - cpu0,
             "median_poll_ms": 1000 * statistics.median(latencies),
             "p95_poll_ms": 1000 * sorted(latencies)[int(0.95 * (len(latencies) - 1))],
             "max_poll_ms": 1000 * max(latencies)})
    store.close()


def following(trials: int, tmp: Path, readers: int) -> dict:
    ctx = mp.get_context("spawn")
    out: dict = {"trials": trials}
    # writer alone
    q = ctx.Queue()
    path = str(tmp / "alone.db")
    w = ctx.Process(target=write_run, args=(path, trials, None, 0, q))
    w.start()
    out["writer_alone_seconds"] = q.get(timeout=600)
    w.join()
    print(f"  writer alone: {out['writer_alone_seconds']:.2f} s for {trials} trials", flush=True)
    # catch-up from cursor 0 on the finished store
    store = open_store(path, readonly=True)
    t0 = time.perf_counter()
    events = store.events_since("bench", 0)
    out["catch_up_events"] = len(events)
    out["catch_up_seconds"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    all_trials = store.trials("bench")
    out["read_all_trials_seconds"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for tid in range(0, trials, max(1, trials // 100)):
        store.snapshot_for("bench", tid)
    out["snapshot_read_ms"] = 1000 * (time.perf_counter() - t0) / len(range(0, trials, max(1, trials // 100)))
    tail = store.events_since("bench", events[-15].seq)
    t0 = time.perf_counter()
    for _ in range(200):
        store.events_since("bench", events[-15].seq)
    out["incremental_poll_ms_14_new_events"] = 1000 * (time.perf_counter() - t0) / 200
    t0 = time.perf_counter()
    for _ in range(200):
        store.events_since("bench", events[-1].seq)
    out["incremental_poll_ms_nothing_new"] = 1000 * (time.perf_counter() - t0) / 200
    assert len(all_trials) == trials and len(tail) == 14
    store.close()
    print(f"  catch-up: {out['catch_up_events']} events in {out['catch_up_seconds']:.3f} s; trials() "
          f"{out['read_all_trials_seconds']:.3f} s; poll (one trial new) {out['incremental_poll_ms_14_new_events']:.2f} ms, "
          f"(nothing new) {out['incremental_poll_ms_nothing_new']:.3f} ms", flush=True)
    # writer with readers in other processes
    path = str(tmp / "followed.db")
    ready = tempfile.mkdtemp(dir=tmp)
    q, rq = ctx.Queue(), ctx.Queue()
    w = ctx.Process(target=write_run, args=(path, trials, ready, readers, q))
    w.start()
    rs = [ctx.Process(target=follow_run, args=(path, ready, i, rq)) for i in range(readers)]
    for r in rs:
        r.start()
    out["writer_with_readers_seconds"] = q.get(timeout=600)
    reports = [rq.get(timeout=600) for _ in rs]
    w.join()
    for r in rs:
        r.join()
    out["readers"] = readers
    out["reader_reports"] = reports
    out["writer_slowdown"] = out["writer_with_readers_seconds"] / out["writer_alone_seconds"]
    print(f"  writer with {readers} polling readers: {out['writer_with_readers_seconds']:.2f} s "
          f"(x{out['writer_slowdown']:.2f}); reader errors {sum(r['errors'] for r in reports)}; "
          f"median poll {statistics.median(r['median_poll_ms'] for r in reports):.2f} ms", flush=True)
    return out


def write_markdown(result: dict, path: Path) -> None:
    lines = ["# Run loop and store overhead", "",
             f"{result['machine']}; Python {result['python']}; SQLite {result['sqlite']}; {result['date']}; "
             f"load average {result['load_before']:.1f} before / {result['load_after']:.1f} after (a shared box: "
             "other jobs inflate every figure, and the writer-with-readers ratio is within that noise).", "",
             "## Loop overhead per trial (free searcher and objective: scheduling + store writes only)", "",
             "| store | executor | trials | ms / trial | writes / trial | ms / write |", "|---|---|---|---|---|---|"]
    for r in result["loop"]:
        if "note" in r:
            continue
        lines.append(f"| {r['store']} | {r['executor']} | {r['trials']} | {r['ms_per_trial']:.2f} | "
                     f"{r['events_per_trial']:.0f} | {r['ms_per_write']:.3f} |")
    e2e = [r for r in result["loop"] if "note" in r]
    for r in e2e:
        lines += ["", f"For scale, {r['note']} (SQLite, inline): **{r['ms_per_trial']:.2f} ms/trial** end to end."]
    f = result["following"]
    reports = f["reader_reports"]
    lines += ["", f"## Following a {f['trials']:,}-trial run ({f['catch_up_events']:,} events, 14 per trial)", "",
              f"- Catch-up from cursor 0: {f['catch_up_seconds'] * 1000:.0f} ms "
              f"({1e6 * f['catch_up_seconds'] / f['catch_up_events']:.1f} µs/event); `trials()` for all "
              f"{f['trials']:,}: {f['read_all_trials_seconds'] * 1000:.0f} ms; one snapshot: {f['snapshot_read_ms']:.2f} ms.",
              f"- Incremental poll `events_since(cursor)`: {f['incremental_poll_ms_14_new_events']:.2f} ms with one "
              f"trial's 14 new events, {f['incremental_poll_ms_nothing_new']:.3f} ms when nothing is new.",
              f"- Writer alone: {f['writer_alone_seconds']:.2f} s for {f['trials']:,} trials "
              f"({1000 * f['writer_alone_seconds'] / f['catch_up_events']:.3f} ms/transaction); with {f['readers']} "
              f"reader processes polling every 50 ms: {f['writer_with_readers_seconds']:.2f} s "
              f"(×{f['writer_slowdown']:.2f}).",
              f"- Readers: {sum(r['errors'] for r in reports)} errors ('database is locked' or other); "
              f"median poll {statistics.median(r['median_poll_ms'] for r in reports):.2f} ms, p95 "
              f"{max(r['p95_poll_ms'] for r in reports):.2f} ms, max {max(r['max_poll_ms'] for r in reports):.1f} ms; "
              f"CPU per reader {statistics.mean(r['cpu_seconds'] for r in reports):.2f} s over the run; every reader "
              f"saw all {reports[0]['events']:,} events.", ""]
    path.write_text("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--trials", type=int, default=None, help="trials for the loop overhead (default 300)")
    ap.add_argument("--readers", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args()
    loop_trials = args.trials or (60 if args.quick else 300)
    follow_trials = 200 if args.quick else 1000
    import sqlite3

    result = {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
              "machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "date": time.strftime("%Y-%m-%d"),
              "load_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        print("loop overhead:", flush=True)
        result["loop"] = loop_overhead(loop_trials, tmp)
        print("following a run:", flush=True)
        result["following"] = following(follow_trials, tmp, args.readers)
    result["load_after"] = os.getloadavg()[0]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "run_overhead.json").write_text(json.dumps(result, indent=1) + "\n")
    write_markdown(result, out / "run_overhead.md")
    print(f"wrote {out / 'run_overhead.json'} and .md")


if __name__ == "__main__":
    main()
