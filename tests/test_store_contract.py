"""One contract, every backend: what the loop writes, every reader reads back the same way."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from conftest import load_reference

from nasbot_viz.arch import Architecture
from nasbot_viz.errors import StoreError
from nasbot_viz.records import EpochPoint, ModelView, Proposal, Result, TrialState
from nasbot_viz.store import MemoryStore, SQLiteStore, open_store
from nasbot_viz.store import sqlite as sqlite_backend

NETS = [Architecture.from_dict(n) for n in load_reference("cnn")["networks"]]


def proposal(tid: int, parents=(), modifiers=(), view=None, origin="pool") -> Proposal:
    return Proposal(trial_id=tid, architecture=NETS[tid % len(NETS)], parents=tuple(parents),
                    modifiers=tuple(modifiers), model_view=view, origin=origin)


@pytest.fixture(params=["memory", "sqlite"])
def store(request, tmp_path):
    s = MemoryStore() if request.param == "memory" else open_store(tmp_path / "run.db")
    yield s
    s.close()


# ----------------------------------------------------------------------------- runs
def test_runs_round_trip(store):
    config = {"task": "synthetic-cnn", "method": "nasbot", "seed": 3, "searcher": {"acquisition": "ei"}}
    a = store.create_run(config)
    b = store.create_run({"task": "digits-cnn"}, run_id="second")
    assert b == "second"
    run = store.get_run(a)
    assert run["run_id"] == a and run["status"] == "created" and run["config"] == config
    assert [r["run_id"] for r in store.list_runs()] == [a, "second"]
    store.set_run_status(a, "running")
    store.update_run_config(a, {"budget_evaluations": 50})
    run = store.get_run(a)
    assert run["status"] == "running" and run["config"]["budget_evaluations"] == 50 and run["config"]["seed"] == 3
    assert [(e.kind, e.payload) for e in store.events_since(a)] == [
        ("status", {"status": "created"}), ("status", {"status": "running"})]
    with pytest.raises(StoreError, match="already exists"):
        store.create_run({}, run_id="second")
    with pytest.raises(StoreError, match="unknown run status"):
        store.set_run_status(a, "exploded")
    with pytest.raises(StoreError, match="no run"):
        store.get_run("nope")
    with pytest.raises(StoreError, match="no run"):
        store.events_since("nope")


def test_config_must_be_plain_data(store):
    with pytest.raises(StoreError, match="plain data"):
        store.create_run({"searcher": object()})


# ----------------------------------------------------------------------------- trial life cycle
def test_trial_lifecycle_and_events(store):
    run = store.create_run({"task": "t"})
    view = ModelView(mean=0.2, std=0.05, acquisition=0.01, acquisition_name="ei")
    mods = [{"name": "wider", "layer": 2, "factor": 2}]
    store.add_trial(run, proposal(0))
    store.add_trial(run, proposal(1, parents=[0], modifiers=mods, view=view, origin="mutation"))
    store.add_snapshot(run, 1, {"trial_ids": [0], "mean": [0.3], "std": [0.1], "acquisition": [0.0],
                                "candidates": [{"arch": NETS[1].to_dict(), "mean": 0.2, "std": 0.05,
                                                "acquisition": 0.01}], "chosen": 0})
    store.mark_running(run, 0, worker="thread-0")
    store.mark_running(run, 1, worker="thread-1")
    store.record_progress(run, 0, EpochPoint(1, 2.0, 0.5, 0.1))
    store.record_progress(run, 0, EpochPoint(2, 1.0, 0.4, 0.2))
    tr = store.trial(run, 0)
    assert tr.state is TrialState.RUNNING and tr.worker == "thread-0"
    assert [p["epoch"] for p in tr.curve] == [1, 2]
    store.record_result(run, 0, Result(value=0.4, num_params=1234, epochs=2,
                                       curve=(EpochPoint(1, 2.0, 0.5, 0.1), EpochPoint(2, 1.0, 0.4, 0.2))))
    store.record_result(run, 1, Result.failure("CUDA out of memory"))

    t0, t1 = store.trials(run)
    assert (t0.trial_id, t0.state, t0.value) == (0, TrialState.DONE, 0.4)
    assert t0.architecture == NETS[0].to_dict() and t0.arch_id == NETS[0].id
    assert t0.result["num_params"] == 1234 and len(t0.curve) == 2
    assert Architecture.from_dict(t0.architecture) == NETS[0]
    assert t0.proposed_at <= t0.started_at <= t0.finished_at
    assert (t1.state, t1.value, t1.failure_reason) == (TrialState.FAILED, None, "CUDA out of memory")
    assert t1.parents == (0,) and list(t1.modifiers) == mods and t1.origin == "mutation"
    assert t1.model_view == view.to_dict()
    assert store.counts(run) == {"pending": 0, "running": 0, "done": 1, "failed": 1, "interrupted": 0}

    kinds = [(e.kind, e.trial_id) for e in store.events_since(run)]
    assert kinds == [("status", None), ("proposed", 0), ("proposed", 1), ("snapshot", 1), ("started", 0),
                     ("started", 1), ("progress", 0), ("progress", 0), ("done", 0), ("failed", 1)]
    events = store.events_since(run)
    proposed = events[2].payload
    assert proposed["parents"] == [0] and proposed["modifiers"] == mods and proposed["model_view"]["mean"] == 0.2
    assert proposed["architecture"] == NETS[1].to_dict()
    assert events[8].payload["value"] == 0.4 and events[9].payload["reason"] == "CUDA out of memory"
    json.dumps([e.payload for e in events])  # plain data all the way down


def test_illegal_transitions_are_refused(store):
    run = store.create_run({})
    store.add_trial(run, proposal(0))
    with pytest.raises(StoreError, match="already has a trial 0"):
        store.add_trial(run, proposal(0))
    with pytest.raises(StoreError, match="not running"):
        store.record_progress(run, 0, EpochPoint(1, 1.0, 1.0, 0.0))
    store.mark_running(run, 0)
    with pytest.raises(StoreError, match="not pending"):
        store.mark_running(run, 0)
    store.record_result(run, 0, Result(value=0.1))
    with pytest.raises(StoreError, match="twice"):
        store.record_result(run, 0, Result(value=0.2))
    with pytest.raises(StoreError, match="cannot be interrupted"):
        store.mark_interrupted(run, [0])
    with pytest.raises(StoreError, match="no trial 7"):
        store.trial(run, 7)
    with pytest.raises(StoreError, match="no trial 7"):
        store.mark_running(run, 7)
    assert store.trial(run, 0).value == 0.1  # refused writes changed nothing


def test_interrupted_trials(store):
    run = store.create_run({})
    for t in range(3):
        store.add_trial(run, proposal(t))
    store.mark_running(run, 1)
    store.mark_interrupted(run, [0, 1])
    states = [t.state for t in store.trials(run)]
    assert states == [TrialState.INTERRUPTED, TrialState.INTERRUPTED, TrialState.PENDING]
    ev = [e for e in store.events_since(run) if e.kind == "interrupted"]
    assert [(e.trial_id, e.payload["previous_state"]) for e in ev] == [(0, "pending"), (1, "running")]
    with pytest.raises(StoreError):  # one bad id: nothing is changed
        store.mark_interrupted(run, [2, 0])
    assert store.trial(run, 2).state is TrialState.PENDING


def test_snapshots(store):
    run = store.create_run({})
    assert store.latest_snapshot(run) is None
    for t in range(3):
        store.add_trial(run, proposal(t))
        store.add_snapshot(run, t, {"trial_ids": list(range(t)), "mean": [0.5] * t, "chosen": t})
    assert store.latest_snapshot(run)["chosen"] == 2
    assert store.snapshot_for(run, 1) == {"trial_ids": [0], "mean": [0.5], "chosen": 1}
    assert store.snapshot_for(run, 9) is None
    snap = store.snapshot_for(run, 1)
    snap["mean"].append(99)  # readers get copies
    assert store.snapshot_for(run, 1)["mean"] == [0.5]


def test_numpy_values_become_plain_data(store):
    np = pytest.importorskip("numpy")
    run = store.create_run({"seed": np.int64(4)})
    store.add_trial(run, proposal(0))
    store.add_snapshot(run, 0, {"mean": np.array([0.1, 0.2]), "std": np.float64(0.3)})
    assert store.snapshot_for(run, 0) == {"mean": [0.1, 0.2], "std": 0.3}
    assert store.get_run(run)["config"] == {"seed": 4}


def test_events_since_is_incremental(store):
    run = store.create_run({})
    other = store.create_run({})
    for t in range(10):
        store.add_trial(run, proposal(t))
        store.add_trial(other, proposal(t))
    cursor, seen = 0, []
    while True:
        batch = store.events_since(run, cursor, limit=3)
        if not batch:
            break
        assert len(batch) <= 3
        seen.extend(batch)
        cursor = batch[-1].seq
    assert [e.trial_id for e in seen if e.kind == "proposed"] == list(range(10))
    assert all(e.run_id == run for e in seen)
    seqs = [e.seq for e in seen]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert store.last_seq(run) == seqs[-1]
    assert store.events_since(run, store.last_seq(run)) == []
    store.mark_running(run, 3)
    new = store.events_since(run, cursor)
    assert [(e.kind, e.trial_id) for e in new] == [("started", 3)]


def test_readers_in_threads(store):
    """The explorer reads from a server thread while the loop writes from its own."""
    run = store.create_run({})
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader():
        cursor, n = 0, 0
        try:
            while not stop.is_set() or n < 40:
                for e in store.events_since(run, cursor):
                    assert e.seq > cursor
                    cursor = e.seq
                    n += e.kind == "proposed"
                store.trials(run)
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for th in threads:
        th.start()
    for t in range(40):
        store.add_trial(run, proposal(t))
        store.mark_running(run, t)
        store.record_result(run, t, Result(value=t / 100))
    stop.set()
    for th in threads:
        th.join(30)
    assert not errors, errors
    assert store.counts(run)["done"] == 40


# ----------------------------------------------------------------------------- SQLite specifics
def test_sqlite_persists_and_uses_wal(tmp_path):
    path = tmp_path / "sub" / "run.db"
    with open_store(path) as s:
        run = s.create_run({"task": "x"})
        s.add_trial(run, proposal(0))
        s.mark_running(run, 0)
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with open_store(path, readonly=True) as r:
        assert r.trial(run, 0).state is TrialState.RUNNING
        with pytest.raises(StoreError, match="read-only"):
            r.set_run_status(run, "running")
        assert [m["version"] for m in r.schema_history()] == [1]
    with open_store(f"sqlite:///{path}") as s:  # SQLAlchemy-style URL
        assert s.get_run(run)["config"] == {"task": "x"}


def test_sqlite_stores_no_pickles(tmp_path):
    path = tmp_path / "run.db"
    with open_store(path) as s:
        run = s.create_run({"task": "x"})
        s.add_trial(run, proposal(1, parents=[0], modifiers=[{"name": "wider"}]))
        s.record_result(run, 1, Result(value=0.5))
    conn = sqlite3.connect(path)
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        for row in conn.execute(f"SELECT * FROM {table}"):
            for cell in row:
                assert not isinstance(cell, bytes), (table, row)


@pytest.mark.parametrize("content, message", [
    (b"hello, I am a text file\n" * 10, "not a nasbot-viz run store"),
    (b"", "not a nasbot-viz run store"),
])
def test_not_a_store(tmp_path, content, message):
    path = tmp_path / "x.db"
    path.write_bytes(content)
    with pytest.raises(StoreError, match=message):
        open_store(path, readonly=True)


def test_foreign_sqlite_database_and_missing_file(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="SQLite database but not a nasbot-viz run store"):
        open_store(path)
    with pytest.raises(StoreError, match="no run store at"):
        open_store(tmp_path / "missing.db", readonly=True)
    with pytest.raises(StoreError, match="directory"):
        open_store(tmp_path)
    with pytest.raises(StoreError, match="unknown store URL"):
        open_store("postgres://host/db")


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "run.db"
    open_store(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer nasbot-viz .*schema v99"):
        open_store(path)


def test_migrations_upgrade_an_old_store(tmp_path, monkeypatch):
    path = tmp_path / "run.db"
    with open_store(path) as s:
        run = s.create_run({"task": "x"})
        s.add_trial(run, proposal(0))
    v2 = ("a column for notes", ("ALTER TABLE runs ADD COLUMN notes TEXT",))
    monkeypatch.setitem(sqlite_backend.MIGRATIONS, 2, v2)
    monkeypatch.setattr(sqlite_backend, "SCHEMA_VERSION", 2)
    with pytest.raises(StoreError, match="needs upgrading"):
        SQLiteStore(path, readonly=True)
    with SQLiteStore(path) as s:
        assert [m["version"] for m in s.schema_history()] == [1, 2]
        assert s.trial(run, 0).arch_id == NETS[0].id  # data survived the migration
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    assert "notes" in [r[1] for r in conn.execute("PRAGMA table_info(runs)")]


READER = textwrap.dedent("""
    import json, pathlib, sys, time
    from nasbot_viz.store import open_store
    path, run, total, ready = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    store = open_store(path, readonly=True)
    store.events_since(run)
    pathlib.Path(ready).touch()
    cursor, done, reads = 0, set(), 0
    deadline = time.time() + 60
    while len(done) < total and time.time() < deadline:
        for e in store.events_since(run, cursor):
            assert e.seq > cursor, (e.seq, cursor)
            cursor = e.seq
            if e.kind == "done":
                done.add(e.trial_id)
        trials = store.trials(run)
        assert all(t.value is not None for t in trials if t.state.value == "done")
        reads += 1
    print(json.dumps({"done": sorted(done), "reads": reads}))
""")


def test_reader_processes_follow_a_writer(tmp_path):
    """Several processes read while the loop writes: no 'database is locked', nothing missed."""
    path = tmp_path / "run.db"
    store = open_store(path)
    run = store.create_run({"task": "x"})
    total = 120
    ready = [tmp_path / f"ready{i}" for i in range(3)]
    readers = [subprocess.Popen([sys.executable, "-c", READER, str(path), run, str(total), str(r)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in ready]
    deadline = time.time() + 60
    while not all(r.exists() for r in ready) and time.time() < deadline:  # write while they read
        time.sleep(0.05)
    for t in range(total):
        time.sleep(0.003)
        store.add_trial(run, proposal(t))
        store.mark_running(run, t)
        store.record_progress(run, t, EpochPoint(1, 1.0, 0.5, 0.01))
        store.record_result(run, t, Result(value=t / 1000))
    store.close()
    for p in readers:
        out, err = p.communicate(timeout=90)
        assert p.returncode == 0, err
        report = json.loads(out)
        assert report["done"] == list(range(total))
        assert report["reads"] > 1  # it read while the writer was writing


def test_writer_lock(store, tmp_path):
    with store.writer_lock():
        if isinstance(store, SQLiteStore):
            other = open_store(store.path)
            with pytest.raises(StoreError, match="being written by nasbot-viz process"):
                with other.writer_lock():
                    pass
            other.close()
    with store.writer_lock():  # released
        pass


LOCK_HOLDER = textwrap.dedent("""
    import sys, time
    from nasbot_viz.store import open_store
    store = open_store(sys.argv[1])
    with store.writer_lock():
        print("locked", flush=True)
        time.sleep(60)
""")


def test_writer_lock_dies_with_its_process(tmp_path):
    path = tmp_path / "run.db"
    open_store(path).close()
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with open_store(path) as s:
            with pytest.raises(StoreError, match="being written"):
                with s.writer_lock():
                    pass
            holder.kill()
            holder.wait(10)
            with s.writer_lock():
                pass
    finally:
        holder.kill()


def test_writer_active(tmp_path):
    path = tmp_path / "run.db"
    writer = open_store(path)
    reader = open_store(path, readonly=True)
    assert not reader.writer_active()
    with writer.writer_lock():
        assert reader.writer_active()
    assert not reader.writer_active()
    assert not MemoryStore().writer_active()
