"""Searches started from the explorer: the NASBOT loop in a background thread of the server.

Evaluations go to a spawn process pool (a thread pool for the synthetic tasks, which do not
train). The loop is the store's only writer; every session, here or in another process, follows
the run through the store. Runs are process-wide (a second tab sees and can steer the same run).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from nasbot_viz.errors import NasbotVizError

METHODS = {"NASBOT": "nasbot", "Random search": "random", "Evolution": "evolution"}
ACQUISITIONS = ("ei", "ucb", "ts")


@dataclass(frozen=True)
class SearchSettings:
    task: str = "digits-cnn"
    method: str = "nasbot"
    budget: int = 30
    workers: int = 2
    acquisition: str = "ei"
    seed: int = 0
    epochs: int | None = None

    def check(self) -> "SearchSettings":
        from nasbot_viz.train import TASKS

        if self.task not in TASKS or ":" in self.task:
            raise NasbotVizError(f"unknown task {self.task!r}")
        if self.method not in METHODS.values():
            raise NasbotVizError(f"unknown method {self.method!r}; choose one of {', '.join(METHODS.values())}")
        if not (1 <= int(self.budget) <= 100_000):
            raise NasbotVizError(f"the budget must be between 1 and 100000 evaluations, got {self.budget}")
        if not (1 <= int(self.workers) <= 64):
            raise NasbotVizError(f"workers must be between 1 and 64, got {self.workers}")
        if self.acquisition not in ACQUISITIONS:
            raise NasbotVizError(f"unknown acquisition {self.acquisition!r}; choose one of {', '.join(ACQUISITIONS)}")
        return self


def make_searcher(settings: SearchSettings, kind: str, direction: str = "minimize") -> Any:
    from nasbot_viz import search

    common = dict(kind=kind, direction=direction, seed=settings.seed)
    if settings.method == "nasbot":
        return search.NASBOT(acquisition=settings.acquisition, **common)
    if settings.method == "random":
        return search.RandomSearch(**common)
    return search.Evolution(**common)


@dataclass
class ActiveRun:
    settings: SearchSettings
    controller: Any
    thread: threading.Thread
    started: float = field(default_factory=time.time)
    error: str | None = None

    @property
    def run_id(self) -> str | None:
        return self.controller.run_id

    @property
    def alive(self) -> bool:
        return self.thread.is_alive()


_RUNS: list[ActiveRun] = []
_LOCK = threading.Lock()


def active_runs() -> list[ActiveRun]:
    with _LOCK:
        return list(_RUNS)


def find(run_id: str | None) -> ActiveRun | None:
    """The run with this id if this process is running it (so the page may steer it)."""
    if run_id is None:
        return None
    return next((r for r in active_runs() if r.run_id == run_id), None)


def start_search(settings: SearchSettings, store: Any) -> ActiveRun:
    """Start a search in a background thread and return at once; the run id appears on the
    controller as soon as the loop has registered the run in the store."""
    settings.check()
    from nasbot_viz.run import RunController

    controller = RunController()
    holder: dict[str, ActiveRun] = {}

    def target() -> None:
        run = holder["run"]
        pool = None
        try:
            from nasbot_viz.run import make_executor, run_search
            from nasbot_viz.train import get_task

            task = get_task(settings.task)
            kind = getattr(task, "kind", "cnn")
            direction = getattr(task, "direction", "minimize")
            synthetic = "synthetic" in settings.task
            pool = make_executor("thread" if synthetic else "process", int(settings.workers))
            searcher = make_searcher(settings, kind, direction)
            run_search(searcher, task, store, pool, budget_evaluations=int(settings.budget), controller=controller,
                       seed=settings.seed, epochs=settings.epochs,
                       config={"method": settings.method, "acquisition": settings.acquisition,
                               "workers": settings.workers, "started_from": "explorer"})
        except BaseException as err:  # shown on the page; the server goes on
            run.error = f"{type(err).__name__}: {err}"
        finally:
            if pool is not None:
                try:
                    pool.shutdown(wait=False)
                except Exception:
                    pass

    thread = threading.Thread(target=target, name="nasbot-search", daemon=True)
    run = ActiveRun(settings, controller, thread)
    holder["run"] = run
    with _LOCK:
        _RUNS.append(run)
    thread.start()
    return run
