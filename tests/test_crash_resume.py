"""Kill a real `nasbot-viz run` with SIGKILL at random moments, resume it each time, and check
that no finished trial was lost, changed or evaluated twice, and that the trials that were
running at each crash were proposed again."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from nasbot_viz.errors import StoreError
from nasbot_viz.records import TrialState
from nasbot_viz.store import open_store

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

# The real CLI, with the (instant) synthetic objective slowed down so that kills land mid-run.
SLOW_CLI = """
import sys, time
import nasbot_viz.train as train
_evaluate = train.evaluate
def slow_evaluate(*args, **kwargs):
    time.sleep(float(sys.argv[1]))
    return _evaluate(*args, **kwargs)
train.evaluate = slow_evaluate
from nasbot_viz.cli import main
sys.exit(main(sys.argv[2:]))
"""


def _finished(path) -> dict[int, tuple]:
    """Done and failed trials as they stand now (empty while the store does not exist yet)."""
    try:
        with open_store(path, readonly=True) as store:
            runs = store.list_runs()
            if not runs:
                return {}
            return {t.trial_id: (t.state, t.value, t.arch_id, t.parents, t.modifiers, t.failure_reason)
                    for t in store.trials(runs[0]["run_id"]) if t.state in (TrialState.DONE, TrialState.FAILED)}
    except StoreError:
        return {}


def _launch(argv, delay):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    # its own process group, so the kill also takes any helper processes it spawned (no orphans)
    return subprocess.Popen([sys.executable, "-c", SLOW_CLI, str(delay), *argv], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def crash_and_resume(tmp_path, *, method: str, evaluations: int, kills: int, delay: float, seed: int) -> None:
    rng = random.Random(seed)  # fixed moments: the same test every time
    path = tmp_path / "crash.db"
    first = ["run", "--task", "synthetic-cnn", "--method", method, "--evaluations", str(evaluations),
             "--workers", "2", "--executor", "thread", "--store", str(path), "--seed", "3", "--quiet"]
    history: list[dict[int, tuple]] = []
    for k in range(kills):
        proc = _launch(first if k == 0 else ["resume", str(path), "--quiet"], delay)
        before = len(_finished(path))
        if k > 0 and rng.random() < 0.25:  # sometimes while it starts up or replays the store
            time.sleep(rng.uniform(0.0, 1.5))
        else:  # otherwise after a few more results, at a random point within an evaluation
            target = before + rng.randint(1, 4)
            deadline = time.monotonic() + 60
            while proc.poll() is None and len(_finished(path)) < target and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(rng.uniform(0.0, 1.5 * delay))
        assert proc.poll() is None, f"the run ended before kill {k}: {proc.stderr.read()}"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
        if k == 0:  # a killed run looks 'running' but nobody writes it
            with open_store(path, readonly=True) as store:
                assert store.list_runs()[0]["status"] == "running" and not store.writer_active()
        history.append(_finished(path))
    assert len(history[-1]) < evaluations, "the kills came too late to test anything"

    final = _launch(["resume", str(path), "--quiet"], delay)
    _, err = final.communicate(timeout=120)
    assert final.returncode == 0, err

    with open_store(path, readonly=True) as store:
        [run] = store.list_runs()
        trials = {t.trial_id: t for t in store.trials(run["run_id"])}
        events = store.events_since(run["run_id"])
        assert run["status"] == "finished"
    counts = Counter(t.state for t in trials.values())
    assert counts[TrialState.DONE] + counts[TrialState.FAILED] == evaluations
    assert counts[TrialState.PENDING] == counts[TrialState.RUNNING] == 0

    # every trial finished before a crash survived, unchanged
    for snapshot in history:
        for tid, rec in snapshot.items():
            t = trials[tid]
            assert (t.state, t.value, t.arch_id, t.parents, t.modifiers, t.failure_reason) == rec
    # ... exactly once: one result event per finished trial, and no architecture evaluated twice
    results = Counter(e.trial_id for e in events if e.kind in ("done", "failed"))
    assert all(n == 1 for n in results.values()) and len(results) == evaluations
    finished_archs = Counter(t.arch_id for t in trials.values() if t.state in (TrialState.DONE, TrialState.FAILED))
    assert max(finished_archs.values()) == 1

    # the crashes really interrupted running trials, and those were proposed again with their lineage
    interrupted = [t for t in trials.values() if t.state is TrialState.INTERRUPTED]
    assert interrupted, "no kill hit a running evaluation"
    resumed = [t for t in trials.values() if t.origin == "resume"]
    assert resumed
    for t in resumed:
        before = [i for i in interrupted if i.trial_id < t.trial_id and i.arch_id == t.arch_id]
        assert before and any((i.parents, i.modifiers) == (t.parents, t.modifiers) for i in before)
    finished_ids = {t.arch_id for t in trials.values() if t.state in (TrialState.DONE, TrialState.FAILED)}
    last_trial = max(trials)
    for i in interrupted:  # each interrupted network was evaluated later, unless the budget ran out first
        assert i.arch_id in finished_ids or any(
            t.arch_id == i.arch_id and t.state is TrialState.INTERRUPTED and t.trial_id > i.trial_id
            for t in trials.values()) or i.trial_id > last_trial - 4


def test_sigkill_and_resume_evolution(tmp_path):
    crash_and_resume(tmp_path, method="evolution", evaluations=30, kills=4, delay=0.15, seed=11)


@pytest.mark.slow
def test_sigkill_and_resume_nasbot_soak(tmp_path):
    crash_and_resume(tmp_path, method="nasbot", evaluations=40, kills=8, delay=0.2, seed=5)


def test_sigterm_cancels_cleanly_and_says_how_to_resume(tmp_path):
    path = tmp_path / "term.db"
    proc = _launch(["run", "--task", "synthetic-cnn", "--method", "random", "--evaluations", "50", "--workers", "2",
                    "--executor", "thread", "--store", str(path)], 0.3)
    deadline = time.monotonic() + 60
    while len(_finished(path)) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert f"Resume with: nasbot-viz resume {path} --run" in err and "Traceback" not in err
    with open_store(path, readonly=True) as store:
        [run] = store.list_runs()
        assert run["status"] == "cancelled"
        states = Counter(t.state for t in store.trials(run["run_id"]))
        assert states[TrialState.INTERRUPTED] >= 1
        assert states[TrialState.PENDING] == states[TrialState.RUNNING] == 0
