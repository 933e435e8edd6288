"""The asynchronous run loop: ask → submit → tell → store, as in the paper's parallel NASBOT.

As soon as a worker slot is free the searcher is asked for one more proposal (it hallucinates the
pending ones), and each result is told the moment it completes, so no worker waits for the slowest
of a batch. The loop is the only writer of the store: every proposal, start, epoch, result,
failure and model snapshot is one transaction, written as it happens, so a crash loses at most the
evaluations that were running and viewers in other processes follow along with `events_since`.

Another thread steers a run through a `RunController` (pause, resume, stop, cancel, step) and
watches it through `RunProgress`.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from nasbot_viz.records import Proposal, Result, TrialState
from nasbot_viz.run.errors import RunError
from nasbot_viz.run.executors import WorkerPool

log = logging.getLogger(__name__)

_POLL_SECONDS = 0.25  # how often the loop looks at the clock and process-pool progress when idle


# ----------------------------------------------------------------------------- progress
@dataclass(frozen=True)
class RunProgress:
    """Where a run stands: what a progress bar or the explorer's control bar shows."""

    run_id: str
    status: str
    done: int = 0
    failed: int = 0
    running: int = 0
    interrupted: int = 0
    budget_evaluations: int | None = None
    budget_seconds: float | None = None
    best_value: float | None = None
    best_trial_id: int | None = None
    elapsed: float = 0.0
    eta_seconds: float | None = None

    @property
    def completed(self) -> int:
        """Evaluations that count against the budget (done and failed)."""
        return self.done + self.failed

    @property
    def fraction(self) -> float | None:
        if self.budget_evaluations:
            return min(1.0, self.completed / self.budget_evaluations)
        if self.budget_seconds:
            return min(1.0, self.elapsed / self.budget_seconds)
        return None


@dataclass(frozen=True)
class RunSummary:
    """What `run_search` returns when the loop ends."""

    run_id: str
    status: str  # 'finished', 'stopped', 'cancelled'
    done: int
    failed: int
    interrupted: int
    evaluations: int  # completed in this session
    best_value: float | None
    best_trial_id: int | None
    elapsed: float


# ----------------------------------------------------------------------------- controller
class RunController:
    """Steer a running loop from another thread. Every method is thread-safe and returns at once.

    - `pause` / `resume`: stop / restart proposing; evaluations already running go on.
    - `step`: while paused, run exactly one more proposal and evaluation (teaching mode); if the
      run is not paused it is paused first.
    - `stop`: propose no more, let the running evaluations finish, then end ('stopped').
    - `cancel`: abandon the running evaluations at once (marked 'interrupted') and end.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._paused = False
        self._stop = False
        self._cancel = False
        self._steps = 0
        self._wakers: list[Callable[[], None]] = []
        self._progress: RunProgress | None = None
        self._finished = threading.Event()
        self._summary: RunSummary | None = None
        self._error: BaseException | None = None

    # -- commands
    def pause(self) -> None:
        self._set(paused=True)

    def resume(self) -> None:
        self._set(paused=False, steps=0)

    def step(self, n: int = 1) -> None:
        with self._lock:
            self._paused = True
            self._steps += max(1, int(n))
        self._wake()

    def stop(self) -> None:
        self._set(stop=True)

    def cancel(self) -> None:
        self._set(stop=True, cancel=True)

    # -- state
    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def stop_requested(self) -> bool:
        return self._stop

    @property
    def cancel_requested(self) -> bool:
        return self._cancel

    @property
    def progress(self) -> RunProgress | None:
        """The latest progress the loop published (None before it starts)."""
        return self._progress

    @property
    def run_id(self) -> str | None:
        return self._progress.run_id if self._progress else None

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    @property
    def summary(self) -> RunSummary | None:
        return self._summary

    @property
    def error(self) -> BaseException | None:
        """The exception that ended the loop, if it crashed."""
        return self._error

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the loop has ended; False on timeout."""
        return self._finished.wait(timeout)

    # -- used by the loop
    def _set(self, **changes: Any) -> None:
        with self._lock:
            for k, v in changes.items():
                setattr(self, "_" + k, v)
        self._wake()

    def _wake(self) -> None:
        for wake in list(self._wakers):
            wake()

    def _attach(self, wake: Callable[[], None]) -> None:
        with self._lock:
            self._wakers.append(wake)
            self._finished.clear()
            self._summary = None
            self._error = None

    def _detach(self, wake: Callable[[], None]) -> None:
        with self._lock:
            if wake in self._wakers:
                self._wakers.remove(wake)

    def _take_step(self) -> bool:
        with self._lock:
            if self._steps > 0:
                self._steps -= 1
                return True
            return False

    def _finish(self, summary: RunSummary | None, error: BaseException | None) -> None:
        self._summary, self._error = summary, error
        self._finished.set()


# ----------------------------------------------------------------------------- the loop
def trial_seed(seed: int, trial_id: int) -> int:
    """Each trial's training seed: fixed by the run seed and the trial id, so reruns agree."""
    return (int(seed) * 1_000_003 + int(trial_id) * 7919) % (2**31 - 1)


def _minimise(direction: str | None) -> bool:
    return not str(direction or "minimize").lower().startswith("max")


def _default_evaluate() -> Callable[..., Result]:
    from nasbot_viz.train import evaluate  # lazily: the run layer must not load training code early

    return evaluate


def _describe_task(task: Any) -> dict[str, Any]:
    if isinstance(task, str):
        return {"task": task}
    out: dict[str, Any] = {"task": getattr(task, "name", str(task))}
    if hasattr(task, "to_dict"):
        spec = task.to_dict()
        out["task_options"] = spec.get("options", {})
        out["task_epochs"] = spec.get("default_epochs")
    return out


def _code_version() -> str:
    from nasbot_viz import __version__

    return __version__


@dataclass
class _Flight:
    trial_id: int
    slot: int
    proposal: Proposal


class _Loop:
    def __init__(self, searcher: Any, task: Any, store: Any, pool: WorkerPool, *, run_id: str,
                 budget_evaluations: int | None, budget_seconds: float | None, controller: RunController,
                 on_event: Callable[[str, int | None, RunProgress], None] | None, epochs: int | None,
                 seed: int, device: str, evaluate_fn: Callable[..., Result], time_limit: float | None) -> None:
        self.searcher, self.task, self.store, self.pool = searcher, task, store, pool
        self.run_id = run_id
        self.budget_evaluations, self.budget_seconds = budget_evaluations, budget_seconds
        self.ctrl, self.on_event = controller, on_event
        self.epochs, self.seed, self.device = epochs, seed, device
        self.evaluate_fn, self.time_limit = evaluate_fn, time_limit
        self.minimise = _minimise(getattr(task, "direction", None) or getattr(searcher, "direction", None))
        self.wake = threading.Event()
        self.in_flight: dict[cf.Future, _Flight] = {}
        self.free_slots = list(range(pool.workers))
        self.status = "created"
        self.session_done = 0
        self.exhausted = False
        self._callback_failed = False
        counts = store.counts(run_id)
        self.done, self.failed, self.interrupted = counts["done"], counts["failed"], counts["interrupted"]
        self.best_value: float | None = None
        self.best_trial: int | None = None
        for t in store.trials(run_id):
            if t.state is TrialState.DONE and t.value is not None:
                self._consider_best(t.trial_id, t.value)
        self.t0 = time.monotonic()

    # -- bookkeeping
    def _consider_best(self, trial_id: int, value: float) -> None:
        if self.best_value is None or (value < self.best_value if self.minimise else value > self.best_value):
            self.best_value, self.best_trial = value, trial_id

    def progress(self) -> RunProgress:
        elapsed = time.monotonic() - self.t0
        eta: float | None = None
        if self.budget_evaluations:
            remaining = max(0, self.budget_evaluations - self.done - self.failed)
            if remaining == 0:
                eta = 0.0
            elif self.session_done > 0:
                eta = remaining * elapsed / self.session_done
        if self.budget_seconds:
            left = max(0.0, self.budget_seconds - elapsed)
            eta = left if eta is None else min(eta, left)
        return RunProgress(self.run_id, self.status, self.done, self.failed, len(self.in_flight), self.interrupted,
                           self.budget_evaluations, self.budget_seconds, self.best_value, self.best_trial, elapsed, eta)

    def emit(self, kind: str, trial_id: int | None = None) -> None:
        progress = self.progress()
        self.ctrl._progress = progress
        if self.on_event is None:
            return
        try:
            self.on_event(kind, trial_id, progress)
        except Exception:  # noqa: BLE001 - a broken viewer must not kill a search
            if not self._callback_failed:
                log.exception("on_event callback failed; the run goes on")
                self._callback_failed = True

    def set_status(self, status: str) -> None:
        if status != self.status:
            self.status = status
            self.store.set_run_status(self.run_id, status)
            self.emit("status")

    def out_of_budget(self) -> bool:
        if self.budget_evaluations is not None and self.done + self.failed + len(self.in_flight) >= self.budget_evaluations:
            return True
        return self.budget_seconds is not None and time.monotonic() - self.t0 >= self.budget_seconds

    # -- the three moves
    def propose_and_submit(self) -> bool:
        proposals = self.searcher.ask(1)
        if not proposals:
            self.exhausted = True
            return False
        proposal = proposals[0]
        tid = int(proposal.trial_id)
        self.store.add_trial(self.run_id, proposal)
        snapshot = self.searcher.snapshot() if hasattr(self.searcher, "snapshot") else None
        if snapshot:
            self.store.add_snapshot(self.run_id, tid, snapshot)
        self.emit("proposed", tid)
        slot = self.free_slots.pop(0)
        worker = f"{self.pool.kind}-{slot}"
        self.store.mark_running(self.run_id, tid, worker=worker)
        kwargs: dict[str, Any] = dict(epochs=self.epochs, seed=trial_seed(self.seed, tid), device=self.device,
                                      on_progress=self.pool.progress_sink(tid), threads=self.pool.threads_per_eval)
        if self.time_limit is not None:
            kwargs["time_limit"] = self.time_limit
        try:
            future = self.pool.submit(self.evaluate_fn, proposal.architecture, self.task, **kwargs)
        except BaseException:
            self.free_slots.insert(0, slot)
            self.store.mark_interrupted(self.run_id, [tid])
            self.interrupted += 1
            raise
        self.in_flight[future] = _Flight(tid, slot, proposal)
        future.add_done_callback(lambda _f: self.wake.set())
        self.emit("started", tid)
        return True

    def record_progress(self) -> None:
        active = {f.trial_id for f in self.in_flight.values()}
        for tid, point in self.pool.drain_progress():
            if tid in active:
                self.store.record_progress(self.run_id, tid, point)
                self.emit("progress", tid)

    def complete(self, future: cf.Future) -> None:
        flight = self.in_flight[future]
        tid = flight.trial_id
        try:
            result = future.result()
            if not isinstance(result, Result):
                result = Result.failure(f"the evaluation returned a {type(result).__name__}, not a Result")
        except cf.CancelledError:
            self._interrupt([future])
            return
        except cf.BrokenExecutor as err:
            self._interrupt([f for f in self.in_flight])
            raise RunError(f"the worker pool died ({type(err).__name__}: {err}); resume the run to go on") from None
        except Exception as err:  # noqa: BLE001 - an evaluation's crash is that trial's failure
            result = Result.failure(f"{type(err).__name__}: {err}")
        del self.in_flight[future]
        self.free_slots.append(flight.slot)
        self.free_slots.sort()
        self.store.record_result(self.run_id, tid, result)
        self.session_done += 1
        if result.ok:
            self.done += 1
            self._consider_best(tid, float(result.value))
            self.searcher.tell(tid, float(result.value))
        else:
            self.failed += 1
            self.searcher.tell_failure(tid, result.failure_reason or "failed")
        self.emit("done" if result.ok else "failed", tid)

    def _interrupt(self, futures: list[cf.Future]) -> None:
        flights = [self.in_flight.pop(f) for f in futures if f in self.in_flight]
        for f in futures:
            f.cancel()
        if not flights:
            return
        self.store.mark_interrupted(self.run_id, [fl.trial_id for fl in flights])
        self.interrupted += len(flights)
        for fl in flights:
            self.free_slots.append(fl.slot)
            self.emit("interrupted", fl.trial_id)
        self.free_slots.sort()

    # -- main
    def run(self) -> str:
        while True:
            self.wake.clear()
            finished = [f for f in self.in_flight if f.done()]
            self.record_progress()  # after listing finished trials, so all their epochs are in
            for future in finished:
                self.complete(future)
            if self.ctrl.cancel_requested:
                self._interrupt(list(self.in_flight))
                return "cancelled"
            stopping = self.ctrl.stop_requested
            self.set_status("paused" if self.ctrl.paused and not stopping else "running")
            while self.free_slots and not stopping and not self.exhausted and not self.out_of_budget():
                if self.ctrl.paused and not self.ctrl._take_step():
                    break
                if not self.propose_and_submit():
                    break
            if not self.in_flight:
                if stopping:
                    return "stopped"
                if self.exhausted or self.out_of_budget():
                    return "finished"
            timeout = _POLL_SECONDS
            if self.budget_seconds is not None:
                timeout = min(timeout, max(0.0, self.budget_seconds - (time.monotonic() - self.t0)) + 0.01)
            if self.in_flight and all(f.done() for f in self.in_flight):
                continue
            self.wake.wait(timeout)


def run_search(
    searcher: Any,
    task: Any,
    store: Any,
    executor: "WorkerPool | cf.Executor",
    budget_evaluations: int | None = None,
    budget_seconds: float | None = None,
    run_id: str | None = None,
    controller: RunController | None = None,
    on_event: Callable[[str, int | None, RunProgress], None] | None = None,
    epochs: int | None = None,
    seed: int = 0,
    device: str = "auto",
    *,
    config: dict[str, Any] | None = None,
    evaluate_fn: Callable[..., Result] | None = None,
    time_limit: float | None = None,
) -> RunSummary:
    """Search until the budget is spent (evaluations done or failed, and/or wall seconds from now),
    the controller stops or cancels it, or the searcher has nothing left to propose.

    ``run_id=None`` registers a new run with ``config`` (plus task, seed, budget, executor and
    code version); an existing ``run_id`` goes on with that run (its finished trials count against
    the budget; see `nasbot_viz.run.resume`). ``on_event(kind, trial_id, progress)`` is called in
    the loop's thread after each store write ('proposed', 'started', 'progress', 'done',
    'failed', 'interrupted', 'status'). ``evaluate_fn`` defaults to `nasbot_viz.train.evaluate`
    and must be picklable for process and Dask executors.
    """
    for name, value in (("budget_evaluations", budget_evaluations), ("budget_seconds", budget_seconds)):
        if value is not None and (isinstance(value, bool) or not value > 0 or not math.isfinite(value)):
            raise RunError(f"{name} must be a positive number, got {value!r}")
    if budget_evaluations is None and budget_seconds is None and controller is None:
        raise RunError("give a budget (budget_evaluations and/or budget_seconds) or a controller to stop the run")
    pool = WorkerPool.wrap(executor)
    controller = controller or RunController()
    _give_task_feasibility(searcher, task, evaluate_fn)
    lock = store.writer_lock() if hasattr(store, "writer_lock") else contextlib.nullcontext()
    try:
        with lock:
            return _run_locked(searcher, task, store, pool, budget_evaluations, budget_seconds, run_id, controller,
                               on_event, epochs, seed, device, config, evaluate_fn, time_limit)
    except BaseException as err:
        if not controller.finished:  # failed before the loop started (store locked, unknown run)
            controller._finish(None, err)
        raise


def _give_task_feasibility(searcher: Any, task: Any, evaluate_fn: Any) -> None:
    """Let the searcher skip networks the task would refuse (its parameter budget), so no trial
    is spent on them. Only for the built-in evaluation and searchers that accept the check."""
    if evaluate_fn is not None or not hasattr(searcher, "feasible") or searcher.feasible is not None:
        return
    from nasbot_viz.errors import NasbotVizError
    from nasbot_viz.train.feasibility import feasibility

    try:
        searcher.feasible = feasibility(task)
    except (NasbotVizError, OSError, ValueError):
        pass  # the evaluation itself will report what is wrong with the task


def _searcher_spec(searcher: Any) -> dict[str, Any] | None:
    """How to rebuild the searcher on resume: its method name and constructor arguments."""
    method = getattr(searcher, "method", None)
    make_config = getattr(searcher, "config", None)
    if not isinstance(method, str) or not callable(make_config):
        return None
    return {"method": method, "config": make_config()}


def _run_locked(searcher: Any, task: Any, store: Any, pool: WorkerPool, budget_evaluations: int | None,
                budget_seconds: float | None, run_id: str | None, controller: RunController,
                on_event: Any, epochs: int | None, seed: int, device: str, config: dict[str, Any] | None,
                evaluate_fn: Callable[..., Result] | None, time_limit: float | None) -> RunSummary:
    if run_id is None:
        spec = _searcher_spec(searcher)
        full = {
            **_describe_task(task),
            "method": spec["method"] if spec else type(searcher).__name__,
            "searcher": spec,
            "seed": seed,
            "epochs": epochs,
            "device": device,
            "budget_evaluations": budget_evaluations,
            "budget_seconds": budget_seconds,
            "time_limit": time_limit,
            "executor": pool.kind,
            "workers": pool.workers,
            "code_version": _code_version(),
        }
        full.update(config or {})
        run_id = store.create_run(full)
    else:
        store.get_run(run_id)
    loop = _Loop(searcher, task, store, pool, run_id=run_id, budget_evaluations=budget_evaluations,
                 budget_seconds=budget_seconds, controller=controller, on_event=on_event, epochs=epochs, seed=seed,
                 device=device, evaluate_fn=evaluate_fn or _default_evaluate(), time_limit=time_limit)
    controller._attach(loop.wake.set)
    pool.set_waker(loop.wake.set)
    summary: RunSummary | None = None
    error: BaseException | None = None
    try:
        loop.set_status("running")
        final = loop.run()
        loop.set_status(final)
        summary = RunSummary(run_id, final, loop.done, loop.failed, loop.interrupted, loop.session_done,
                             loop.best_value, loop.best_trial, time.monotonic() - loop.t0)
        return summary
    except BaseException as err:
        error = err
        try:
            loop._interrupt(list(loop.in_flight))
            loop.set_status("cancelled" if isinstance(err, KeyboardInterrupt) else "crashed")
        except Exception:  # noqa: BLE001 - the store itself may be what failed; keep the first error
            log.exception("could not record the end of run %s", run_id)
        raise
    finally:
        pool.set_waker(None)
        controller._detach(loop.wake.set)
        controller._finish(summary, error)


__all__ = ["RunController", "RunProgress", "RunSummary", "run_search", "trial_seed"]
