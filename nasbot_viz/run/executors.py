"""Where evaluations run: inline, threads, processes or a Dask cluster, all behind
`concurrent.futures`, wrapped in a `WorkerPool` that also knows its size and carries per-epoch
progress back to the loop.

Progress: thread and inline pools hand workers a callback that puts points on an in-process
queue. Process pools use a ``multiprocessing`` Manager queue (started on first use, spawn context)
so epochs stream back from child processes too. Dask workers report no per-epoch progress: the
full learning curve arrives with the result instead.

Process pools always use the *spawn* start method: forking a process that runs a web server,
threads or CUDA is unsafe.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import queue
import threading
import time
from multiprocessing.managers import SyncManager
from typing import Any, Callable

from nasbot_viz._process import exit_with_parent as _exit_with_parent
from nasbot_viz.records import EpochPoint
from nasbot_viz.run.errors import RunError

EXECUTOR_KINDS = ("inline", "thread", "process", "dask")


class InlineExecutor(cf.Executor):
    """Runs each call at once in the caller's thread: deterministic, for tests and debugging."""

    def __init__(self) -> None:
        self._shutdown = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future:
        if self._shutdown:
            raise RuntimeError("cannot submit after shutdown")
        future: cf.Future = cf.Future()
        future.set_running_or_notify_cancel()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as err:  # noqa: BLE001 - delivered through the future, like a pool
            if isinstance(err, (KeyboardInterrupt, SystemExit)):
                raise
            future.set_exception(err)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._shutdown = True


class ProgressSink:
    """A picklable per-trial progress callback: puts ``(trial_id, point)`` on a queue."""

    def __init__(self, q: Any, trial_id: int, wake: Callable[[], None] | None = None) -> None:
        self.q = q
        self.trial_id = trial_id
        self.wake = wake

    def __call__(self, point: EpochPoint) -> None:
        try:
            self.q.put((self.trial_id, point))
        except Exception:  # noqa: BLE001 - progress is best effort; the result carries the curve
            return
        if self.wake is not None:
            self.wake()

    def __getstate__(self) -> dict[str, Any]:
        return {"q": self.q, "trial_id": self.trial_id, "wake": None}  # wake only works in-process


class WorkerPool:
    """An executor with what the loop needs on top: how many evaluations to keep in flight,
    how many CPU threads each may use, and a progress channel."""

    def __init__(self, executor: cf.Executor, kind: str, workers: int, *, threads_per_eval: int = 1,
                 owns_executor: bool = True, progress: str | None = None,
                 on_shutdown: Callable[[], None] | None = None, description: str | None = None) -> None:
        if workers < 1:
            raise RunError(f"workers must be at least 1, got {workers}")
        self.executor = executor
        self.kind = kind
        self.workers = int(workers)
        self.threads_per_eval = max(1, int(threads_per_eval))
        self.description = description or f"{workers} {kind} worker{'s' if workers != 1 else ''}"
        self._owns = owns_executor
        self._progress_mode = progress  # 'local', 'manager' or None
        self._queue: Any = queue.SimpleQueue() if progress == "local" else None
        self._manager: Any = None
        self._wake: Callable[[], None] | None = None
        self._on_shutdown = on_shutdown
        self._lock = threading.Lock()

    @classmethod
    def wrap(cls, executor: "cf.Executor | WorkerPool") -> "WorkerPool":
        """Accept any `concurrent.futures.Executor` (the caller keeps ownership of it)."""
        if isinstance(executor, WorkerPool):
            return executor
        if not isinstance(executor, cf.Executor):
            raise RunError(f"an executor must be a concurrent.futures.Executor, got {type(executor).__name__}")
        workers = int(getattr(executor, "_max_workers", 1) or 1)
        kind = {cf.ThreadPoolExecutor: "thread", cf.ProcessPoolExecutor: "process",
                InlineExecutor: "inline"}.get(type(executor), type(executor).__name__)
        progress = "local" if kind in ("thread", "inline") else None
        return cls(executor, kind, workers, owns_executor=False, progress=progress)

    # ------------------------------------------------------------------ progress
    def set_waker(self, wake: Callable[[], None] | None) -> None:
        """The loop's wake-up call, invoked when in-process progress arrives."""
        self._wake = wake

    def progress_sink(self, trial_id: int) -> ProgressSink | None:
        """A callback for `evaluate(on_progress=...)`, or None where progress cannot travel."""
        if self._progress_mode == "local":
            return ProgressSink(self._queue, trial_id, self._wake)
        if self._progress_mode == "manager":
            with self._lock:
                if self._manager is None:
                    try:
                        manager = SyncManager(ctx=multiprocessing.get_context("spawn"))
                        manager.start(initializer=_exit_with_parent, initargs=(os.getpid(),))
                        self._manager = manager
                        self._queue = manager.Queue()
                    except (OSError, EOFError, RuntimeError):
                        self._progress_mode = None
                        return None
            return ProgressSink(self._queue, trial_id)
        return None

    def drain_progress(self) -> list[tuple[int, EpochPoint]]:
        """Every progress point that arrived since the last call, oldest first."""
        out: list[tuple[int, EpochPoint]] = []
        q = self._queue
        if q is None:
            return out
        while True:
            try:
                out.append(q.get_nowait())
            except queue.Empty:
                return out
            except (OSError, EOFError, BrokenPipeError):  # the manager went away: no more progress
                self._queue, self._progress_mode = None, None
                return out

    # ------------------------------------------------------------------ executor
    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future:
        return self.executor.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Shut down what this pool created (an executor passed in by a caller is left alone)."""
        if self._owns:
            try:
                self.executor.shutdown(wait=wait, cancel_futures=cancel_futures)
            except TypeError:  # executors without cancel_futures
                self.executor.shutdown(wait=wait)
        if self._manager is not None:
            try:
                self._manager.shutdown()
            except Exception:  # noqa: BLE001 - already gone
                pass
            self._manager = None
        if self._on_shutdown is not None:
            self._on_shutdown()
            self._on_shutdown = None

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown(wait=exc[0] is None, cancel_futures=exc[0] is not None)

    def __repr__(self) -> str:
        return f"<WorkerPool {self.description}>"


def _cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def make_executor(kind: str = "thread", workers: int = 1, address: str | None = None) -> WorkerPool:
    """A worker pool of ``kind`` ('inline', 'thread', 'process', 'dask') with ``workers`` slots.

    ``dask`` connects to the scheduler at ``address`` (for example ``tcp://host:8786``) and keeps as
    many evaluations in flight as the cluster has worker threads (or ``workers`` if larger); with
    no address it starts a local cluster of ``workers`` single-threaded worker processes.
    """
    if kind not in EXECUTOR_KINDS:
        raise RunError(f"unknown executor {kind!r}; choose one of {', '.join(EXECUTOR_KINDS)}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise RunError(f"workers must be a positive integer, got {workers!r}")
    if address is not None and kind != "dask":
        raise RunError("a scheduler address only makes sense with the dask executor")
    cpus = _cpus()
    if kind == "inline":
        return WorkerPool(InlineExecutor(), "inline", 1, threads_per_eval=cpus, progress="local",
                          description="inline (no parallelism)")
    if kind == "thread":
        ex = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="nasbot-worker")
        return WorkerPool(ex, "thread", workers, threads_per_eval=max(1, cpus // workers), progress="local")
    if kind == "process":
        ex = cf.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                    initializer=_exit_with_parent, initargs=(os.getpid(),))
        return WorkerPool(ex, "process", workers, threads_per_eval=max(1, cpus // workers), progress="manager")
    return _make_dask(workers, address)


def _make_dask(workers: int, address: str | None) -> WorkerPool:
    try:
        from distributed import Client, LocalCluster  # lazily: Dask is optional
    except ImportError:
        raise RunError("the dask executor needs the 'distributed' package: pip install 'nasbot-viz[distributed]'") \
            from None
    cluster = None
    try:
        if address is None:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=40)
            client = Client(cluster)
        else:
            client = Client(address, timeout=10)
    except (OSError, TimeoutError) as err:
        if cluster is not None:
            cluster.close()
        raise RunError(f"cannot reach the Dask scheduler at {address or 'a local cluster'}: {err}") from None
    threads = sum(client.nthreads().values()) or workers
    slots = max(workers, threads) if address is not None else workers

    def close() -> None:
        client.close()
        if cluster is not None:
            cluster.close()

    where = address or f"a local cluster of {workers} processes"
    return WorkerPool(client.get_executor(pure=False), "dask", slots, threads_per_eval=1, progress=None,
                      on_shutdown=close, description=f"dask: {slots} slots on {where}")
