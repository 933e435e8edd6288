"""The asynchronous loop: what it writes, how it overlaps work, how it fails, how it is steered."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import Counter

import pytest

from nasbot_viz.arch.zoo import initial_pool
from nasbot_viz.records import Proposal, Result, TrialState
from nasbot_viz.run import (InlineExecutor, RunController, RunError, make_executor, run_search)
from nasbot_viz.store import MemoryStore, open_store
from nasbot_viz.train import evaluate, get_task

TASK = get_task("synthetic-cnn", epochs=3)
POOL = [a for a in initial_pool("cnn") if evaluate(a, TASK).ok]  # the two largest exceed max_params


class FakeSearcher:
    """Hands out pool architectures in order and remembers what it was told (and when)."""

    direction = "minimize"

    def __init__(self, fail_ask_at: int | None = None) -> None:
        self.next_id = 0
        self.pending: set[int] = set()
        self.told: dict[int, float] = {}
        self.failures: dict[int, str] = {}
        self.max_pending = 0
        self.fail_ask_at = fail_ask_at
        self.lock = threading.Lock()

    def ask(self, n: int = 1) -> list[Proposal]:
        out = []
        for _ in range(n):
            tid = self.next_id
            if tid == self.fail_ask_at:
                raise RuntimeError("searcher bug")
            self.next_id += 1
            self.pending.add(tid)
            self.max_pending = max(self.max_pending, len(self.pending))
            out.append(Proposal(tid, POOL[tid % len(POOL)], parents=(tid - 1,) if tid else (),
                                modifiers=({"name": "fake", "step": tid},), origin="mutation" if tid else "pool"))
        return out

    def tell(self, trial_id: int, value: float) -> None:
        assert trial_id in self.pending and trial_id not in self.told
        self.pending.discard(trial_id)
        self.told[trial_id] = value

    def tell_failure(self, trial_id: int, reason: str) -> None:
        assert trial_id in self.pending
        self.pending.discard(trial_id)
        self.failures[trial_id] = reason

    def snapshot(self) -> dict:
        return {"trial_ids": sorted(self.told), "mean": [0.5] * len(self.told), "chosen": 0}


# --------------------------------------------------------------------- evaluation functions (picklable)
GATE = threading.Event()
DELAYS: dict[int, float] = {}


def eval_by_seed_delay(architecture, task, *, seed, **kw):
    """Trial-dependent sleep, keyed by the architecture's position in POOL."""
    time.sleep(DELAYS.get(POOL.index(architecture), 0.0))
    return evaluate(architecture, task, seed=seed, **kw)


def eval_gated(architecture, task, **kw):
    GATE.wait(30)
    return evaluate(architecture, task, **kw)


def eval_flaky(architecture, task, **kw):
    i = POOL.index(architecture)
    if i == 2:
        raise ValueError("boom in the worker")
    if i == 3:
        return Result.failure("diverged")
    if i == 4:
        return "not a result"
    return evaluate(architecture, task, **kw)


def eval_slow(architecture, task, **kw):
    time.sleep(0.05)
    return evaluate(architecture, task, **kw)


# --------------------------------------------------------------------- tests
def test_inline_run_writes_everything_in_order():
    store, searcher, seen = MemoryStore(), FakeSearcher(), []
    summary = run_search(searcher, TASK, store, InlineExecutor(), budget_evaluations=5, seed=3,
                         on_event=lambda kind, tid, progress: seen.append((kind, tid, progress)))
    assert (summary.status, summary.done, summary.failed, summary.evaluations) == ("finished", 5, 0, 5)
    trials = store.trials(summary.run_id)
    assert [t.state for t in trials] == [TrialState.DONE] * 5
    assert set(searcher.told) == {0, 1, 2, 3, 4} and not searcher.pending
    for t in trials:  # the store holds what the searcher was told, with lineage and curve
        assert t.value == searcher.told[t.trial_id]
        assert t.architecture == POOL[t.trial_id].to_dict() and t.worker == "inline-0"
        assert t.parents == ((t.trial_id - 1,) if t.trial_id else ())
        assert [p["epoch"] for p in t.curve] == [1, 2, 3]
        assert store.snapshot_for(summary.run_id, t.trial_id) is not None
    best = min(trials, key=lambda t: t.value)
    assert (summary.best_trial_id, summary.best_value) == (best.trial_id, best.value)
    run = store.get_run(summary.run_id)
    assert run["status"] == "finished"
    assert run["config"]["task"] == "synthetic-cnn" and run["config"]["seed"] == 3
    assert run["config"]["method"] == "FakeSearcher" and run["config"]["budget_evaluations"] == 5
    per_trial = {}
    for e in store.events_since(summary.run_id):
        if e.trial_id is not None:
            per_trial.setdefault(e.trial_id, []).append(e.kind)
    for kinds in per_trial.values():
        assert kinds == ["proposed", "snapshot", "started", "progress", "progress", "progress", "done"]
    statuses = [e.payload["status"] for e in store.events_since(summary.run_id) if e.kind == "status"]
    assert statuses == ["created", "running", "finished"]
    done_events = [p for kind, _, p in seen if kind == "done"]
    assert [p.done for p in done_events] == [1, 2, 3, 4, 5]
    assert done_events[-1].eta_seconds == 0 and done_events[-1].fraction == 1.0
    assert all(p.best_value is not None for p in done_events)


def test_asynchronous_with_threads():
    """A slow trial does not hold the others back: free workers get new proposals at once."""
    DELAYS.clear()
    DELAYS.update({0: 0.6})
    store, searcher = MemoryStore(), FakeSearcher()
    pool = make_executor("thread", 3)
    try:
        summary = run_search(searcher, TASK, store, pool, budget_evaluations=8, evaluate_fn=eval_by_seed_delay)
    finally:
        pool.shutdown()
        DELAYS.clear()
    assert summary.done == 8
    assert searcher.max_pending == 3  # three in flight, never more
    done_order = [e.trial_id for e in store.events_since(summary.run_id) if e.kind == "done"]
    assert done_order[-1] == 0 and sorted(done_order) == list(range(8))
    workers = Counter(t.worker for t in store.trials(summary.run_id))
    assert set(workers) <= {"thread-0", "thread-1", "thread-2"} and workers["thread-0"] == 1


def test_failures_are_recorded_and_the_search_goes_on():
    store, searcher = MemoryStore(), FakeSearcher()
    summary = run_search(searcher, TASK, store, InlineExecutor(), budget_evaluations=7, evaluate_fn=eval_flaky)
    assert (summary.status, summary.done, summary.failed) == ("finished", 4, 3)
    trials = {t.trial_id: t for t in store.trials(summary.run_id)}
    assert trials[2].state is TrialState.FAILED and trials[2].failure_reason == "ValueError: boom in the worker"
    assert trials[3].failure_reason == "diverged"
    assert "not a Result" in trials[4].failure_reason
    assert set(searcher.failures) == {2, 3, 4} and set(searcher.told) == {0, 1, 5, 6}


def test_a_broken_callback_does_not_stop_the_run():
    def bad(kind, tid, progress):
        raise RuntimeError("viewer bug")

    summary = run_search(FakeSearcher(), TASK, MemoryStore(), InlineExecutor(), budget_evaluations=3, on_event=bad)
    assert summary.done == 3


def test_searcher_crash_marks_running_trials_and_raises():
    store = MemoryStore()
    GATE.clear()
    pool = make_executor("thread", 2)
    try:
        with pytest.raises(RuntimeError, match="searcher bug"):
            run_search(FakeSearcher(fail_ask_at=1), TASK, store, pool, budget_evaluations=5, evaluate_fn=eval_gated)
    finally:
        GATE.set()
        pool.shutdown()
    run = store.list_runs()[0]
    assert run["status"] == "crashed"
    assert [t.state for t in store.trials(run["run_id"])] == [TrialState.INTERRUPTED]  # trial 0 was running


def _start(controller, store, searcher, pool, **kw):
    out: dict = {}

    def target():
        try:
            out["summary"] = run_search(searcher, TASK, store, pool, controller=controller, **kw)
        except BaseException as err:  # noqa: BLE001
            out["error"] = err

    th = threading.Thread(target=target)
    th.start()
    return th, out


def _wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)


def test_cancel_abandons_running_trials():
    GATE.clear()
    store, searcher, ctrl = MemoryStore(), FakeSearcher(), RunController()
    pool = make_executor("thread", 2)
    th, out = _start(ctrl, store, searcher, pool, budget_evaluations=10, evaluate_fn=eval_gated)
    try:
        _wait_for(lambda: ctrl.progress is not None and ctrl.progress.running == 2)
        ctrl.cancel()
        th.join(20)
        assert not th.is_alive()
    finally:
        GATE.set()
        pool.shutdown()
    summary = out["summary"]
    assert (summary.status, summary.done, summary.interrupted) == ("cancelled", 0, 2)
    assert [t.state for t in store.trials(summary.run_id)] == [TrialState.INTERRUPTED] * 2
    assert store.get_run(summary.run_id)["status"] == "cancelled"
    assert ctrl.finished and ctrl.summary == summary


def test_stop_finishes_running_trials_and_proposes_no_more():
    GATE.clear()
    store, searcher, ctrl = MemoryStore(), FakeSearcher(), RunController()
    pool = make_executor("thread", 2)
    th, out = _start(ctrl, store, searcher, pool, budget_evaluations=10, evaluate_fn=eval_gated)
    try:
        _wait_for(lambda: ctrl.progress is not None and ctrl.progress.running == 2)
        ctrl.stop()
        GATE.set()
        th.join(20)
    finally:
        GATE.set()
        pool.shutdown()
    summary = out["summary"]
    assert (summary.status, summary.done) == ("stopped", 2)
    assert searcher.next_id == 2
    assert store.get_run(summary.run_id)["status"] == "stopped"


def test_pause_step_resume():
    store, searcher, ctrl = MemoryStore(), FakeSearcher(), RunController()
    ctrl.pause()
    pool = make_executor("thread", 2)
    th, out = _start(ctrl, store, searcher, pool, budget_evaluations=6)
    try:
        _wait_for(lambda: ctrl.progress is not None and ctrl.progress.status == "paused")
        assert searcher.next_id == 0  # paused from the start: nothing proposed
        ctrl.step()
        _wait_for(lambda: ctrl.progress.done == 1)
        ctrl.step()
        _wait_for(lambda: ctrl.progress.done == 2)
        time.sleep(0.3)
        assert searcher.next_id == 2 and ctrl.progress.status == "paused"  # exactly one per step
        ctrl.resume()
        th.join(20)
    finally:
        ctrl.cancel()
        pool.shutdown()
    summary = out["summary"]
    assert (summary.status, summary.done) == ("finished", 6)
    statuses = [e.payload["status"] for e in store.events_since(summary.run_id) if e.kind == "status"]
    assert statuses == ["created", "running", "paused", "running", "finished"]


def test_time_budget():
    store, searcher = MemoryStore(), FakeSearcher()
    pool = make_executor("thread", 2)
    try:
        summary = run_search(searcher, TASK, store, pool, budget_seconds=0.3, evaluate_fn=eval_slow)
    finally:
        pool.shutdown()
    assert summary.status == "finished" and summary.done >= 2
    assert summary.done == searcher.next_id  # every proposal was evaluated, none abandoned


def test_bad_settings():
    with pytest.raises(RunError, match="budget"):
        run_search(FakeSearcher(), TASK, MemoryStore(), InlineExecutor())
    with pytest.raises(RunError, match="positive"):
        run_search(FakeSearcher(), TASK, MemoryStore(), InlineExecutor(), budget_evaluations=0)
    with pytest.raises(RunError, match="unknown executor"):
        make_executor("gpu-farm", 2)
    with pytest.raises(RunError, match="positive integer"):
        make_executor("thread", 0)
    with pytest.raises(RunError, match="only makes sense"):
        make_executor("thread", 2, address="tcp://x:1")


def test_process_pool_with_progress(tmp_path):
    """Spawned worker processes evaluate the real objective; epochs stream back via a Manager."""
    store = open_store(tmp_path / "run.db")
    searcher = FakeSearcher()
    with make_executor("process", 2) as pool:
        summary = run_search(searcher, TASK, store, pool, budget_evaluations=4, seed=1)
    assert summary.done == 4
    kinds = Counter(e.kind for e in store.events_since(summary.run_id))
    assert kinds["progress"] == 4 * 3 and kinds["done"] == 4
    for t in store.trials(summary.run_id):
        reference = evaluate(POOL[t.trial_id], TASK, seed=0)
        assert t.value == pytest.approx(reference.value)  # same objective in a child process
        assert len(t.curve) == 3
    store.close()


def test_dask_local_cluster():
    pytest.importorskip("distributed")
    store, searcher = MemoryStore(), FakeSearcher()
    with make_executor("dask", 2) as pool:
        assert pool.kind == "dask" and pool.workers == 2
        summary = run_search(searcher, TASK, store, pool, budget_evaluations=4)
    assert summary.done == 4 and searcher.max_pending == 2
    assert all(t.value is not None and len(t.curve) == 3 for t in store.trials(summary.run_id))


def test_running_synthetic_search_loads_neither_torch_nor_dask(tmp_path):
    """The run layer imports training code lazily, and Dask only for a Dask executor."""
    code = (
        "import sys\n"
        "import nasbot_viz.run, nasbot_viz.run.resume, nasbot_viz.store.export, nasbot_viz.commands.run_commands\n"
        "from nasbot_viz.cli import main\n"
        f"assert main(['run', '--task', 'synthetic-mlp', '--method', 'random', '--evaluations', '3', "
        f"'--executor', 'inline', '--quiet', '--store', {str(tmp_path / 'x.db')!r}]) == 0\n"
        "print('LOADED:' + ','.join(m for m in ('torch', 'dask', 'distributed', 'panel', 'bokeh') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "LOADED:"


def test_dask_scheduler_address():
    """`--dask tcp://...`: connect to an existing scheduler; as many slots as it has worker threads."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=3, processes=False, dashboard_address=None) as cl:
        store, searcher = MemoryStore(), FakeSearcher()
        with make_executor("dask", 1, address=cl.scheduler_address) as pool:
            assert pool.workers == 3 and cl.scheduler_address in pool.description
            summary = run_search(searcher, TASK, store, pool, budget_evaluations=5)
        assert summary.done == 5
