"""The SQLite `RunStore`: the embedded default. One file, readable while it is written.

Why it is safe to watch a live run from anywhere:

- WAL journal: readers never block the writer and the writer never blocks readers.
- Every write is one short ``BEGIN IMMEDIATE ... COMMIT``; ``busy_timeout`` covers the rare moments
  (checkpoints, opening) when a connection must wait.
- One writer connection behind a lock, and one reader connection per thread (sqlite3 connections
  must not be shared between threads), so the explorer's server thread, worker threads and the
  loop can all read at once.
- ``synchronous=NORMAL``: a committed transaction survives the process being killed (what resume
  needs); only a power cut can lose the last few commits.
- Plain data only: columns and JSON text, never pickles, so opening someone's store runs none of
  their code.

The schema is versioned (``PRAGMA user_version``), the file is marked as ours
(``PRAGMA application_id``) and every applied migration is recorded in ``schema_migrations``.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from nasbot_viz.errors import StoreError
from nasbot_viz.records import EpochPoint, Event, Proposal, Result, TrialRecord, TrialState
from nasbot_viz.store import _codec as C
from nasbot_viz.store.base import SCHEMA_VERSION

APPLICATION_ID = 0x4E415342  # 'NASB': marks a file as a nasbot-viz store
BUSY_TIMEOUT_MS = 15000
_SQLITE_MAGIC = b"SQLite format 3\x00"

# version -> (description, statements). Append new versions; never edit an applied one.
MIGRATIONS: dict[int, tuple[str, tuple[str, ...]]] = {
    1: (
        "runs, trials, epoch points, model snapshots and the event log",
        (
            """CREATE TABLE runs (
                run_id TEXT PRIMARY KEY,
                created_at REAL NOT NULL,
                status TEXT NOT NULL,
                config TEXT NOT NULL
            )""",
            """CREATE TABLE trials (
                run_id TEXT NOT NULL REFERENCES runs(run_id),
                trial_id INTEGER NOT NULL,
                state TEXT NOT NULL,
                architecture TEXT NOT NULL,
                arch_id TEXT NOT NULL,
                parents TEXT NOT NULL,
                modifiers TEXT NOT NULL,
                origin TEXT NOT NULL,
                value REAL,
                failure_reason TEXT,
                result TEXT,
                model_view TEXT,
                worker TEXT,
                proposed_at REAL,
                started_at REAL,
                finished_at REAL,
                PRIMARY KEY (run_id, trial_id)
            )""",
            "CREATE INDEX trials_state ON trials(run_id, state)",
            """CREATE TABLE epoch_points (
                run_id TEXT NOT NULL,
                trial_id INTEGER NOT NULL,
                idx INTEGER NOT NULL,
                point TEXT NOT NULL,
                PRIMARY KEY (run_id, trial_id, idx)
            )""",
            """CREATE TABLE snapshots (
                run_id TEXT NOT NULL,
                trial_id INTEGER NOT NULL,
                created_at REAL NOT NULL,
                data TEXT NOT NULL,
                PRIMARY KEY (run_id, trial_id)
            )""",
            """CREATE TABLE events (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                run_id TEXT NOT NULL,
                kind TEXT NOT NULL,
                trial_id INTEGER,
                time REAL NOT NULL,
                payload TEXT NOT NULL
            )""",
            "CREATE INDEX events_run_seq ON events(run_id, seq)",
        ),
    ),
}

_TRIAL_COLUMNS = ("run_id, trial_id, state, architecture, arch_id, parents, modifiers, origin, value, "
                  "failure_reason, result, model_view, worker, proposed_at, started_at, finished_at")


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


def _has_migrations_table(conn: sqlite3.Connection) -> bool:
    return conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone() is not None


def migrate(conn: sqlite3.Connection, target: int | None = None) -> list[int]:
    """Apply every missing migration up to `target` in one transaction; returns the versions applied."""
    target = SCHEMA_VERSION if target is None else target
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = conn.execute("PRAGMA user_version").fetchone()[0]
        if not _has_migrations_table(conn):
            conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL, "
                         "description TEXT NOT NULL)")
        applied = []
        for version in range(current + 1, target + 1):
            description, statements = MIGRATIONS[version]
            for sql in statements:
                conn.execute(sql)
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", (version, time.time(), description))
            applied.append(version)
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {int(target)}")
        conn.execute("COMMIT")
        return applied
    except BaseException:
        conn.execute("ROLLBACK")
        raise


class SQLiteStore:
    """A run store in one SQLite file. ``readonly=True`` never writes (viewers, ``info``, ``export``)."""

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True, readonly: bool = False) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        self.readonly = readonly
        self._write_lock = threading.RLock()
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._closed = False
        self._writer: sqlite3.Connection | None = None
        self._open(create=create and not readonly)

    # ------------------------------------------------------------------ opening
    def _open(self, create: bool) -> None:
        p = self.path
        if p.is_dir():
            raise StoreError(f"{p} is a directory, not a run store")
        exists = p.exists() and p.stat().st_size > 0
        if not p.exists() and not create:
            raise StoreError(f"no run store at {p}")
        if exists:
            with open(p, "rb") as fh:
                if fh.read(16) != _SQLITE_MAGIC:
                    raise StoreError(f"{p} is not a nasbot-viz run store (not an SQLite database)")
        elif create:
            p.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = _connect(str(p))
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            n_tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.DatabaseError as err:
            raise StoreError(f"{p} is not a readable nasbot-viz run store ({err})") from None
        fresh = app_id == 0 and version == 0 and n_tables == 0
        if fresh and not create:
            conn.close()
            raise StoreError(f"{p} is not a nasbot-viz run store (empty database)")
        if not fresh and app_id != APPLICATION_ID:
            conn.close()
            raise StoreError(f"{p} is an SQLite database but not a nasbot-viz run store")
        if version > SCHEMA_VERSION:
            conn.close()
            raise StoreError(
                f"{p} was written by a newer nasbot-viz (store schema v{version}; this version reads up to "
                f"v{SCHEMA_VERSION}); upgrade nasbot-viz to open it"
            )
        try:
            if version < SCHEMA_VERSION:
                if self.readonly:
                    conn.close()
                    raise StoreError(
                        f"{p} uses store schema v{version} and needs upgrading to v{SCHEMA_VERSION}; "
                        "open it for writing once (for example with 'nasbot-viz resume') to migrate it"
                    )
                conn.execute("PRAGMA journal_mode = WAL")
                migrate(conn)
            if not self.readonly:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise StoreError(f"cannot switch {p} to WAL mode (got {mode}); is it on a network drive?")
                conn.execute("PRAGMA synchronous = NORMAL")
                self._writer = conn
                self._track(conn)
            else:
                conn.close()
        except sqlite3.OperationalError as err:
            conn.close()
            raise StoreError(f"cannot open run store {p}: {err}") from None

    def _track(self, conn: sqlite3.Connection) -> None:
        with self._connections_lock:
            self._connections.append(conn)

    def _reader(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError("the store is closed")
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = _connect(str(self.path))
                conn.execute("PRAGMA query_only = ON")
            except sqlite3.DatabaseError as err:
                raise StoreError(f"cannot read run store {self.path}: {err}") from None
            self._local.conn = conn
            self._track(conn)
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction on the single writer connection."""
        if self._closed:
            raise StoreError("the store is closed")
        if self._writer is None:
            raise StoreError(f"{self.path} is open read-only")
        with self._write_lock:
            conn = self._writer
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as err:
                raise StoreError(f"cannot write to run store {self.path}: {err}") from None
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._reader().execute(sql, args).fetchall()
        except sqlite3.DatabaseError as err:
            raise StoreError(f"cannot read run store {self.path}: {err}") from None

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _log(conn: sqlite3.Connection, run_id: str, kind: str, trial_id: int | None, payload: dict[str, Any]) -> None:
        conn.execute("INSERT INTO events (run_id, kind, trial_id, time, payload) VALUES (?, ?, ?, ?, ?)",
                     (run_id, kind, trial_id, time.time(), C.dumps(payload)))

    def _require_run(self, run_id: str, conn: sqlite3.Connection | None = None) -> None:
        sql, args = "SELECT 1 FROM runs WHERE run_id = ?", (run_id,)
        row = conn.execute(sql, args).fetchone() if conn is not None else (self._read(sql, args) or [None])[0]
        if row is None:
            raise StoreError(f"no run {run_id!r} in {self.path}")

    def _state(self, conn: sqlite3.Connection, run_id: str, trial_id: int) -> str:
        row = conn.execute("SELECT state FROM trials WHERE run_id = ? AND trial_id = ?",
                           (run_id, int(trial_id))).fetchone()
        if row is None:
            self._require_run(run_id, conn)
            raise StoreError(f"run {run_id!r} has no trial {trial_id}")
        return row[0]

    @staticmethod
    def _run_dict(row: tuple[Any, ...]) -> dict[str, Any]:
        return {"run_id": row[0], "created_at": row[1], "status": row[2], "config": C.loads(row[3])}

    @staticmethod
    def _record(row: tuple[Any, ...], curve: list[dict[str, Any]]) -> TrialRecord:
        return TrialRecord(
            run_id=row[0], trial_id=int(row[1]), state=TrialState(row[2]), architecture=C.loads(row[3]),
            arch_id=row[4], parents=tuple(C.loads(row[5])), modifiers=tuple(C.loads(row[6])), origin=row[7],
            value=row[8], failure_reason=row[9], result=C.loads(row[10]), model_view=C.loads(row[11]),
            curve=tuple(curve), worker=row[12], proposed_at=row[13], started_at=row[14], finished_at=row[15],
        )

    # ------------------------------------------------------------------ runs
    def create_run(self, config: dict[str, Any], *, run_id: str | None = None) -> str:
        run_id = run_id or uuid.uuid4().hex[:12]
        cfg = C.dumps(dict(config))
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone():
                raise StoreError(f"a run {run_id!r} already exists in {self.path}")
            conn.execute("INSERT INTO runs VALUES (?, ?, ?, ?)", (run_id, time.time(), "created", cfg))
            self._log(conn, run_id, "status", None, {"status": "created"})
        return run_id

    def get_run(self, run_id: str) -> dict[str, Any]:
        rows = self._read("SELECT run_id, created_at, status, config FROM runs WHERE run_id = ?", (run_id,))
        if not rows:
            raise StoreError(f"no run {run_id!r} in {self.path}")
        return self._run_dict(rows[0])

    def list_runs(self) -> list[dict[str, Any]]:
        rows = self._read("SELECT run_id, created_at, status, config FROM runs ORDER BY created_at, rowid")
        return [self._run_dict(r) for r in rows]

    def set_run_status(self, run_id: str, status: str) -> None:
        C.check_status(status)
        with self._write() as conn:
            self._require_run(run_id, conn)
            conn.execute("UPDATE runs SET status = ? WHERE run_id = ?", (status, run_id))
            self._log(conn, run_id, "status", None, {"status": status})

    def update_run_config(self, run_id: str, updates: dict[str, Any]) -> None:
        plain_updates = C.plain(dict(updates))
        with self._write() as conn:
            row = conn.execute("SELECT config FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                raise StoreError(f"no run {run_id!r} in {self.path}")
            config = C.loads(row[0])
            config.update(plain_updates)
            conn.execute("UPDATE runs SET config = ? WHERE run_id = ?", (C.dumps(config), run_id))

    # ------------------------------------------------------------------ trials
    def add_trial(self, run_id: str, proposal: Proposal) -> None:
        f = C.proposal_fields(proposal)
        tid = int(proposal.trial_id)
        with self._write() as conn:
            self._require_run(run_id, conn)
            if conn.execute("SELECT 1 FROM trials WHERE run_id = ? AND trial_id = ?", (run_id, tid)).fetchone():
                raise StoreError(f"run {run_id!r} already has a trial {tid}")
            conn.execute(
                "INSERT INTO trials (run_id, trial_id, state, architecture, arch_id, parents, modifiers, origin, "
                "model_view, proposed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, tid, TrialState.PENDING.value, C.dumps(f["architecture"]), f["arch_id"],
                 C.dumps(f["parents"]), C.dumps(f["modifiers"]), f["origin"], C.dumps(f["model_view"]),
                 time.time()),
            )
            self._log(conn, run_id, "proposed", tid, f)

    def mark_running(self, run_id: str, trial_id: int, worker: str | None = None) -> None:
        with self._write() as conn:
            state = self._state(conn, run_id, trial_id)
            if state != TrialState.PENDING.value:
                raise StoreError(f"trial {trial_id} is {state}, not pending; it cannot start")
            conn.execute("UPDATE trials SET state = ?, worker = ?, started_at = ? WHERE run_id = ? AND trial_id = ?",
                         (TrialState.RUNNING.value, worker, time.time(), run_id, int(trial_id)))
            self._log(conn, run_id, "started", int(trial_id), {"worker": worker})

    def record_progress(self, run_id: str, trial_id: int, point: EpochPoint) -> None:
        p = C.point_dict(point)
        with self._write() as conn:
            state = self._state(conn, run_id, trial_id)
            if state != TrialState.RUNNING.value:
                raise StoreError(f"trial {trial_id} is {state}, not running; progress ignored")
            conn.execute(
                "INSERT INTO epoch_points VALUES (?, ?, (SELECT count(*) FROM epoch_points WHERE run_id = ? "
                "AND trial_id = ?), ?)", (run_id, int(trial_id), run_id, int(trial_id), C.dumps(p)))
            self._log(conn, run_id, "progress", int(trial_id), p)

    def record_result(self, run_id: str, trial_id: int, result: Result) -> None:
        rd = C.result_dict(result)
        tid = int(trial_id)
        with self._write() as conn:
            state = self._state(conn, run_id, tid)
            if state not in (TrialState.PENDING.value, TrialState.RUNNING.value):
                raise StoreError(f"trial {tid} is already {state}; a result cannot be recorded twice")
            value = C.finite_or_none(result.value) if result.ok else None
            reason = None if result.ok else (result.failure_reason or "failed")
            new_state = TrialState.DONE if result.ok else TrialState.FAILED
            conn.execute(
                "UPDATE trials SET state = ?, value = ?, failure_reason = ?, result = ?, finished_at = ? "
                "WHERE run_id = ? AND trial_id = ?",
                (new_state.value, value, reason, C.dumps(rd), time.time(), run_id, tid))
            if rd["curve"]:  # the worker's full curve replaces the points streamed while it ran
                conn.execute("DELETE FROM epoch_points WHERE run_id = ? AND trial_id = ?", (run_id, tid))
                conn.executemany("INSERT INTO epoch_points VALUES (?, ?, ?, ?)",
                                 [(run_id, tid, i, C.dumps(p)) for i, p in enumerate(rd["curve"])])
            if result.ok:
                self._log(conn, run_id, "done", tid, {"value": value, "result": rd})
            else:
                self._log(conn, run_id, "failed", tid, {"reason": reason, "result": rd})

    def mark_interrupted(self, run_id: str, trial_ids: list[int]) -> None:
        with self._write() as conn:
            states = {int(t): self._state(conn, run_id, t) for t in trial_ids}
            for tid, state in states.items():
                if state not in (TrialState.PENDING.value, TrialState.RUNNING.value):
                    raise StoreError(f"trial {tid} is already {state}; it cannot be interrupted")
            now = time.time()
            for tid, state in states.items():
                conn.execute("UPDATE trials SET state = ?, finished_at = ? WHERE run_id = ? AND trial_id = ?",
                             (TrialState.INTERRUPTED.value, now, run_id, tid))
                self._log(conn, run_id, "interrupted", tid, {"previous_state": state})

    def add_snapshot(self, run_id: str, trial_id: int, snapshot: dict[str, Any]) -> None:
        data = C.dumps(snapshot)
        n = len(snapshot.get("candidates", []) or []) if isinstance(snapshot, dict) else 0
        with self._write() as conn:
            self._state(conn, run_id, trial_id)
            conn.execute("INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?, ?)",
                         (run_id, int(trial_id), time.time(), data))
            self._log(conn, run_id, "snapshot", int(trial_id), {"candidates": n})

    # ------------------------------------------------------------------ reads
    def _curves(self, conn: sqlite3.Connection, run_id: str, trial_id: int | None = None) -> dict[int, list]:
        sql = "SELECT trial_id, point FROM epoch_points WHERE run_id = ?"
        args: tuple[Any, ...] = (run_id,)
        if trial_id is not None:
            sql += " AND trial_id = ?"
            args += (int(trial_id),)
        curves: dict[int, list] = {}
        for tid, point in conn.execute(sql + " ORDER BY trial_id, idx", args).fetchall():
            curves.setdefault(int(tid), []).append(C.loads(point))
        return curves

    def trials(self, run_id: str) -> list[TrialRecord]:
        conn = self._reader()
        try:
            conn.execute("BEGIN")  # one consistent view across the two queries
            try:
                rows = conn.execute(f"SELECT {_TRIAL_COLUMNS} FROM trials WHERE run_id = ? ORDER BY trial_id",
                                    (run_id,)).fetchall()
                if not rows:
                    self._require_run(run_id, conn)
                curves = self._curves(conn, run_id)
            finally:
                conn.execute("COMMIT")
        except sqlite3.DatabaseError as err:
            raise StoreError(f"cannot read run store {self.path}: {err}") from None
        return [self._record(r, curves.get(int(r[1]), [])) for r in rows]

    def trial(self, run_id: str, trial_id: int) -> TrialRecord:
        conn = self._reader()
        try:
            conn.execute("BEGIN")
            try:
                row = conn.execute(f"SELECT {_TRIAL_COLUMNS} FROM trials WHERE run_id = ? AND trial_id = ?",
                                   (run_id, int(trial_id))).fetchone()
                if row is None:
                    self._require_run(run_id, conn)
                    raise StoreError(f"run {run_id!r} has no trial {trial_id}")
                curve = self._curves(conn, run_id, trial_id).get(int(trial_id), [])
            finally:
                conn.execute("COMMIT")
        except sqlite3.DatabaseError as err:
            raise StoreError(f"cannot read run store {self.path}: {err}") from None
        return self._record(row, curve)

    def counts(self, run_id: str) -> dict[str, int]:
        self._require_run(run_id)
        out = {s.value: 0 for s in TrialState}
        for state, n in self._read("SELECT state, count(*) FROM trials WHERE run_id = ? GROUP BY state", (run_id,)):
            out[state] = int(n)
        return out

    def latest_snapshot(self, run_id: str) -> dict[str, Any] | None:
        rows = self._read("SELECT data FROM snapshots WHERE run_id = ? ORDER BY created_at DESC, rowid DESC LIMIT 1",
                          (run_id,))
        if not rows:
            self._require_run(run_id)
            return None
        return C.loads(rows[0][0])

    def snapshot_for(self, run_id: str, trial_id: int) -> dict[str, Any] | None:
        rows = self._read("SELECT data FROM snapshots WHERE run_id = ? AND trial_id = ?", (run_id, int(trial_id)))
        if not rows:
            self._require_run(run_id)
            return None
        return C.loads(rows[0][0])

    def events_since(self, run_id: str, cursor: int = 0, limit: int | None = None) -> list[Event]:
        sql = "SELECT seq, run_id, kind, trial_id, time, payload FROM events WHERE run_id = ? AND seq > ? ORDER BY seq"
        args: tuple[Any, ...] = (run_id, int(cursor))
        if limit is not None:
            sql += " LIMIT ?"
            args += (max(0, int(limit)),)
        rows = self._read(sql, args)
        if not rows:
            self._require_run(run_id)
        return [Event(r[0], r[1], r[2], r[3], r[4], C.loads(r[5])) for r in rows]

    def last_seq(self, run_id: str) -> int:
        self._require_run(run_id)
        row = self._read("SELECT max(seq) FROM events WHERE run_id = ?", (run_id,))
        return int(row[0][0] or 0)

    @contextmanager
    def writer_lock(self) -> Iterator[None]:
        """Hold the store's writer lock while a loop writes to it: a second search on the same file
        (another process, or a resume of a run that is still alive) is refused with a clear error.
        An advisory ``flock`` on ``<store>.lock``, so the OS releases it when the holder dies."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - no advisory locks on this platform
            yield
            return
        lock_path = self.path.with_name(self.path.name + ".lock")
        fh = open(lock_path, "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise StoreError(f"{self.path} is being written by {holder}: one search per store at a time "
                             "(watch it with 'nasbot-viz info', or use another --store)") from None
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(f"nasbot-viz process {os.getpid()}")
            fh.flush()
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
            fh.close()

    def writer_active(self) -> bool:
        """Whether a live process holds the writer lock (so a 'running' run really is running)."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover
            return False
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            fh = open(lock_path, "rb")
        except OSError:
            return False
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
        else:
            fcntl.flock(fh, fcntl.LOCK_UN)
            return False
        finally:
            fh.close()

    def schema_history(self) -> list[dict[str, Any]]:
        """Applied migrations, oldest first."""
        rows = self._read("SELECT version, applied_at, description FROM schema_migrations ORDER BY version")
        return [{"version": v, "applied_at": t, "description": d} for v, t, d in rows]

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._connections_lock:
            conns, self._connections = self._connections, []
        with self._write_lock:
            for conn in conns:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
        self._writer = None

    def __enter__(self) -> "SQLiteStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<SQLiteStore {self.path}{' read-only' if self.readonly else ''}>"
