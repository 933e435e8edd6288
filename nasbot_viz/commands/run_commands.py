"""`nasbot-viz run`, `resume`, `info` and `export`: start a search, go on with one after a crash,
and read a run store. Every user mistake is one line on stderr and exit status 2."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, TextIO

from nasbot_viz.errors import NasbotVizError

METHODS = ("nasbot", "random", "evolution")
ACQUISITIONS = ("ei", "ucb", "ts")


# ----------------------------------------------------------------------------- argument types
def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _device(text: str) -> str:
    if text in ("auto", "cpu", "cuda") or text.startswith("cuda:"):
        return text
    raise argparse.ArgumentTypeError(f"expected auto, cpu, cuda or cuda:N, got {text!r}")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run an architecture search and record it in a store",
                       description="Run an architecture search; every proposal and result goes to --store as it "
                                   "happens, so the run can be watched live and resumed after a crash.")
    p.add_argument("--task", default="digits-cnn", help="what to train on (default digits-cnn; "
                   "synthetic-cnn / synthetic-mlp are instant)")
    p.add_argument("--method", default="nasbot", choices=METHODS, help="search method (default nasbot)")
    p.add_argument("--evaluations", type=_positive_int, default=40, help="evaluation budget (default 40)")
    p.add_argument("--time-limit", type=_seconds, default=None, metavar="SECONDS",
                   help="also stop proposing after this many seconds")
    p.add_argument("--workers", type=_positive_int, default=2, help="evaluations in parallel (default 2)")
    p.add_argument("--store", default=None, help="run store file (default runs/TASK-METHOD-seedN.db)")
    p.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    p.add_argument("--dask", default=None, metavar="ADDRESS", help="evaluate on a Dask cluster, e.g. tcp://host:8786")
    p.add_argument("--device", type=_device, default="auto", help="auto (CUDA when present), cpu, cuda or cuda:N")
    p.add_argument("--epochs", type=_positive_int, default=None, help="training epochs per evaluation "
                   "(default: the task's)")
    p.add_argument("--acquisition", choices=ACQUISITIONS, default=None, help="NASBOT's acquisition (default ei)")
    p.add_argument("--executor", choices=("process", "thread", "inline"), default=None,
                   help="where evaluations run (default: process with several workers on a real task, else thread)")
    p.add_argument("--quiet", action="store_true", help="print only the final summary")
    p.set_defaults(handler=_run)

    p = sub.add_parser("resume", help="go on with a run after a crash, a stop or a cancel",
                       description="Resume a run from its store: trials that were running are re-proposed, "
                                   "finished ones are kept and never repeated.")
    p.add_argument("store", metavar="STORE")
    p.add_argument("--run", default=None, metavar="RUN_ID", help="which run (default: the newest)")
    p.add_argument("--evaluations", type=_positive_int, default=None,
                   help="new total evaluation budget (default: the run's own)")
    p.add_argument("--time-limit", type=_seconds, default=None, metavar="SECONDS")
    p.add_argument("--workers", type=_positive_int, default=None)
    p.add_argument("--executor", choices=("process", "thread", "inline"), default=None)
    p.add_argument("--dask", default=None, metavar="ADDRESS")
    p.add_argument("--device", type=_device, default=None)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(handler=_resume)

    p = sub.add_parser("info", help="summarise a run store: runs, states, best architectures")
    p.add_argument("store", metavar="STORE")
    p.add_argument("--run", default=None, metavar="RUN_ID", help="only this run")
    p.add_argument("--top", type=_positive_int, default=5, help="how many best architectures to list (default 5)")
    p.set_defaults(handler=_info)

    p = sub.add_parser("export", help="write every trial of a run, with its lineage, as JSON or CSV")
    p.add_argument("store", metavar="STORE")
    p.add_argument("--run", default=None, metavar="RUN_ID", help="which run (default: the newest)")
    p.add_argument("--format", choices=("json", "csv"), default="json")
    p.add_argument("-o", "--output", default=None, metavar="FILE", help="write here instead of standard output")
    p.set_defaults(handler=_export)


# ----------------------------------------------------------------------------- progress display
def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _value(v: float | None) -> str:
    return "-" if v is None else f"{v:.4g}"


class ProgressPrinter:
    """A live bar on a terminal (redrawn in place, at most 10 times a second); one plain line per
    finished trial otherwise (logs, pipes, CI)."""

    def __init__(self, stream: TextIO, store: Any = None, *, live: bool | None = None, quiet: bool = False) -> None:
        self.stream = stream
        self.store = store
        self.live = stream.isatty() if live is None else live
        self.quiet = quiet
        self._last_draw = 0.0
        self._drawn = False
        self._lock = threading.Lock()

    @staticmethod
    def bar(p: Any, width: int = 24) -> str:
        filled = int(round((p.fraction or 0.0) * width))
        total = f"/{p.budget_evaluations}" if p.budget_evaluations else ""
        failed = f", {p.failed} failed" if p.failed else ""
        return (f"[{'#' * filled}{'-' * (width - filled)}] {p.completed}{total} done{failed}, {p.running} running, "
                f"best {_best(p)}, ETA {_duration(p.eta_seconds)} [{p.status}]")

    def __call__(self, kind: str, trial_id: int | None, p: Any) -> None:
        if self.quiet:
            return
        with self._lock:
            if self.live:
                now = time.monotonic()
                if kind in ("done", "failed", "status", "interrupted") or now - self._last_draw > 0.1:
                    self.stream.write("\r" + self.bar(p) + "\x1b[K")
                    self.stream.flush()
                    self._last_draw, self._drawn = now, True
            elif kind in ("done", "failed", "interrupted"):
                self._line(self._trial_line(kind, trial_id, p))

    def _trial_line(self, kind: str, trial_id: int | None, p: Any) -> str:
        what = kind
        if self.store is not None and trial_id is not None:
            t = self.store.trial(p.run_id, trial_id)
            what = f"value {_value(t.value)}" if kind == "done" else f"{kind} ({t.failure_reason or 'no reason'})" \
                if kind == "failed" else kind
        total = f"/{p.budget_evaluations}" if p.budget_evaluations else ""
        return (f"trial {trial_id} {what} | {p.completed}{total} done, best {_best(p)}, "
                f"ETA {_duration(p.eta_seconds)}")

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def message(self, text: str) -> None:
        """A line the bar does not overwrite."""
        if self.quiet:
            return
        with self._lock:
            if self._drawn:
                self.stream.write("\r\x1b[K")
                self._drawn = False
            self._line(text)

    def finish(self) -> None:
        with self._lock:
            if self._drawn:
                self.stream.write("\n")
                self.stream.flush()
                self._drawn = False


def _best(p: Any) -> str:
    return _value(p.best_value) + (f" (#{p.best_trial_id})" if p.best_trial_id is not None else "")


# ----------------------------------------------------------------------------- handlers
def _default_store(task_name: str, method: str, seed: int) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in task_name)
    return os.path.join("runs", f"{safe}-{method}-seed{seed}.db")


def _drive(start: Any, store: Any, pool: Any, printer: ProgressPrinter, store_path: str) -> int:
    """Run the loop in this thread; SIGTERM and Ctrl-C cancel it cleanly (running trials are marked
    interrupted) and say how to resume."""
    from nasbot_viz.run import RunController

    controller = RunController()
    previous = None
    if threading.current_thread() is threading.main_thread():
        def on_term(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGTERM, on_term)
    try:
        summary = start(controller)
    except KeyboardInterrupt:
        printer.finish()
        run_id = controller.run_id
        where = f"{store_path} --run {run_id}" if run_id else store_path
        print(f"nasbot-viz: interrupted; finished trials are saved. Resume with: nasbot-viz resume {where}",
              file=sys.stderr)
        pool.shutdown(wait=False, cancel_futures=True)
        store.close()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)  # do not wait for evaluations still running in worker threads
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    printer.finish()
    pool.shutdown()
    _print_summary(summary, store_path)
    store.close()
    return 0


def _print_summary(summary: Any, store_path: str) -> None:
    total = summary.done + summary.failed
    failed = f", {summary.failed} failed" if summary.failed else ""
    interrupted = f", {summary.interrupted} interrupted" if summary.interrupted else ""
    print(f"{summary.status}: {total} evaluations ({summary.done} done{failed}{interrupted}); "
          f"{summary.evaluations} in this session, {_duration(summary.elapsed)}")
    if summary.best_trial_id is not None:
        print(f"best: {_value(summary.best_value)} (trial {summary.best_trial_id})")
    print(f"store: {store_path} (run {summary.run_id}); see it with: nasbot-viz info {store_path}")


def _run(args: argparse.Namespace) -> int:
    from nasbot_viz.run import RunError, make_executor, run_search
    from nasbot_viz.search import make_searcher
    from nasbot_viz.store import open_store
    from nasbot_viz.train import get_task

    if args.acquisition and args.method != "nasbot":
        raise RunError(f"--acquisition only applies to --method nasbot, not {args.method}")
    if args.dask and args.executor:
        raise RunError("--dask and --executor exclude each other: --dask already says where evaluations run")
    task = get_task(args.task)
    searcher_kwargs: dict[str, Any] = {"kind": task.kind, "direction": task.direction, "seed": args.seed}
    if args.method == "nasbot" and args.acquisition:
        searcher_kwargs["acquisition"] = args.acquisition
    searcher = make_searcher(args.method, **searcher_kwargs)
    store_path = args.store or _default_store(task.name, args.method, args.seed)
    store = open_store(store_path)
    kind = "dask" if args.dask else args.executor or (
        "process" if args.workers > 1 and task.problem != "synthetic" else "thread")
    try:
        pool = make_executor(kind, args.workers, address=args.dask)
    except BaseException:
        store.close()
        raise
    printer = ProgressPrinter(sys.stdout, store, quiet=args.quiet)
    acq = f" ({getattr(searcher, 'acquisition', '')})" if args.method == "nasbot" else ""
    printer.message(f"searching {task.name} with {args.method}{acq}: {args.evaluations} evaluations on "
                    f"{pool.description}, seed {args.seed}; store {store_path}")
    config = {"dask": args.dask}

    def start(controller: Any) -> Any:
        return run_search(searcher, task, store, pool, budget_evaluations=args.evaluations,
                          budget_seconds=args.time_limit, controller=controller, on_event=printer,
                          epochs=args.epochs, seed=args.seed, device=args.device, config=config)

    try:
        return _drive(start, store, pool, printer, store_path)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        store.close()
        raise


def _resume(args: argparse.Namespace) -> int:
    from nasbot_viz.run import RunError
    from nasbot_viz.run.resume import resume_run
    from nasbot_viz.store import open_store

    if args.dask and args.executor:
        raise RunError("--dask and --executor exclude each other")
    store = open_store(args.store, create=False)
    printer = ProgressPrinter(sys.stdout, store, quiet=args.quiet)
    pool_holder: dict[str, Any] = {}

    def on_plan(plan: Any) -> None:
        budget = f"/{plan.budget_evaluations}" if plan.budget_evaluations else ""
        again = (f"; {len(plan.interrupted)} interrupted trial{'s' if len(plan.interrupted) != 1 else ''} "
                 "will be proposed again") if plan.interrupted else ""
        printer.message(f"resuming run {plan.run_id}: {plan.completed}{budget} evaluations finished{again}")

    class _NoPool:  # resume_run owns its executor; Ctrl-C handling only needs shutdown()
        def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
            pass

    def start(controller: Any) -> Any:
        return resume_run(store, args.run, executor_kind=args.executor or ("dask" if args.dask else None),
                          workers=args.workers, address=args.dask, budget_evaluations=args.evaluations,
                          budget_seconds=args.time_limit, device=args.device, controller=controller,
                          on_event=printer, on_plan=on_plan)

    try:
        return _drive(start, store, pool_holder.get("pool", _NoPool()), printer, args.store)
    except BaseException:
        store.close()
        raise


def _layers_text(arch: dict[str, Any]) -> str:
    labels = [layer.get("label") for layer in arch.get("layers", [])]
    counts = Counter(x for x in labels if x not in ("ip", "op"))
    parts = ", ".join(f"{n}×{label}" if n > 1 else str(label) for label, n in counts.most_common())
    return f"{len(labels)} layers ({parts})"


def _info(args: argparse.Namespace) -> int:
    from nasbot_viz.records import TrialState
    from nasbot_viz.store import open_store, resolve_run_id
    from nasbot_viz.store.export import modifier_names

    with open_store(args.store, readonly=True) as store:
        runs = store.list_runs()
        if args.run is not None:
            resolve_run_id(store, args.run)
            runs = [r for r in runs if r["run_id"] == args.run]
        print(f"{args.store}: {len(runs) if args.run else len(store.list_runs())} run(s)")
        for run in runs:
            cfg = run["config"]
            created = time.strftime("%Y-%m-%d %H:%M", time.localtime(run["created_at"]))
            status = run["status"]
            if status in ("running", "paused") and not store.writer_active():
                status += f"; no process is writing it: it crashed, resume with 'nasbot-viz resume {args.store} " \
                          f"--run {run['run_id']}'"
            print(f"\nrun {run['run_id']}  [{status}]  created {created}")
            searcher = cfg.get("searcher") or {}
            acq = (searcher.get("config") or {}).get("acquisition")
            budget = cfg.get("budget_evaluations")
            print(f"  task {cfg.get('task')}, method {cfg.get('method')}{f' ({acq})' if acq else ''}, "
                  f"seed {cfg.get('seed')}, budget {budget if budget else '-'} evaluations, "
                  f"{cfg.get('workers')} {cfg.get('executor')} worker(s)"
                  + (f", resumed {cfg['resumes']}×" if cfg.get("resumes") else ""))
            counts = store.counts(run["run_id"])
            print("  trials: " + ", ".join(f"{n} {state}" for state, n in counts.items()))
            trials = store.trials(run["run_id"])
            done = [t for t in trials if t.state is TrialState.DONE and t.value is not None]
            maximise = str((searcher.get("config") or {}).get("direction", "minimize")).startswith("max")
            done.sort(key=lambda t: (-t.value if maximise else t.value, t.trial_id))
            if not done:
                print("  no finished trials yet")
                continue
            print(f"  best {min(args.top, len(done))}:")
            for t in done[: args.top]:
                lineage = f"from #{','.join(map(str, t.parents))} via {modifier_names(t.modifiers) or '-'}" \
                    if t.parents else t.origin
                print(f"    #{t.trial_id:<4} {t.value:.4g}  {_layers_text(t.architecture)}  id {t.arch_id}  [{lineage}]")
    return 0


def _export(args: argparse.Namespace) -> int:
    from nasbot_viz.store import open_store, resolve_run_id
    from nasbot_viz.store.export import export_csv, export_json

    with open_store(args.store, readonly=True) as store:
        run_id = resolve_run_id(store, args.run)
        text = export_json(store, run_id) if args.format == "json" else export_csv(store, run_id)
    if args.output in (None, "-"):
        sys.stdout.write(text)
    else:
        out = Path(args.output)
        if out.parent and not out.parent.is_dir():
            raise NasbotVizError(f"cannot write {args.output}: directory {out.parent} does not exist")
        out.write_text(text)
        print(f"wrote {args.output}", file=sys.stderr)
    return 0
