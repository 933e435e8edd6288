"""Resume a run from its store after a crash, a cancel or a stop.

The store is the truth: trials that were pending or running when the loop died are marked
*interrupted* (their evaluations are lost), the searcher is rebuilt from the run's recorded
configuration and replayed from the stored trials, and the loop goes on with the same run id.
The searcher hands the interrupted architectures back first as new trials (``origin='resume'``,
same parents and modifiers); finished trials are told to it as they were and never evaluated again.

Budgets: the evaluation budget counts every finished (done or failed) trial of the run, across all
sessions; a time budget applies afresh to each session.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from nasbot_viz.errors import NasbotVizError
from nasbot_viz.records import Result, TrialState
from nasbot_viz.run.errors import RunError
from nasbot_viz.run.executors import WorkerPool, make_executor
from nasbot_viz.run.loop import RunController, RunProgress, RunSummary, run_search
from nasbot_viz.store import RunStore, resolve_run_id


@dataclass(frozen=True)
class ResumePlan:
    """What `prepare_resume` found and did."""

    run_id: str
    config: dict[str, Any]
    interrupted: list[int]  # trial ids marked interrupted just now
    completed: int  # done + failed
    budget_evaluations: int | None


def prepare_resume(store: RunStore, run_id: str | None = None) -> ResumePlan:
    """Pick the run (newest if not named) and mark its orphaned trials interrupted."""
    run_id = resolve_run_id(store, run_id)
    with store.writer_lock():  # refuse to touch a run another live process is still writing
        run = store.get_run(run_id)
        orphans = [t.trial_id for t in store.trials(run_id) if t.state in (TrialState.PENDING, TrialState.RUNNING)]
        if orphans:
            store.mark_interrupted(run_id, orphans)
    counts = store.counts(run_id)
    config = run["config"]
    return ResumePlan(run_id, config, orphans, counts["done"] + counts["failed"], config.get("budget_evaluations"))


def build_searcher(config: dict[str, Any]) -> Any:
    """Rebuild the searcher a run was started with, from the run's stored configuration."""
    spec = config.get("searcher")
    if not isinstance(spec, dict) or "method" not in spec:
        raise RunError("this run did not record its searcher's configuration, so it cannot be rebuilt; "
                       "pass the searcher to resume_run(searcher=...)")
    from nasbot_viz.search import make_searcher

    try:
        return make_searcher(spec["method"], **dict(spec.get("config") or {}))
    except TypeError as err:
        raise RunError(f"cannot rebuild the {spec['method']!r} searcher from the stored configuration: {err}") \
            from None


def build_task(config: dict[str, Any]) -> Any:
    """The run's task, with the options it was created with."""
    from nasbot_viz.train import get_task

    name = config.get("task")
    if not isinstance(name, str):
        raise RunError("this run did not record its task")
    options = dict(config.get("task_options") or {})
    if name.startswith("npz:"):
        options.pop("path", None)
    epochs = config.get("task_epochs")
    if epochs is not None:
        options["epochs"] = epochs
    return get_task(name, **options)


def resume_run(
    store: RunStore,
    run_id: str | None = None,
    *,
    searcher: Any = None,
    task: Any = None,
    executor: "WorkerPool | None" = None,
    executor_kind: str | None = None,
    workers: int | None = None,
    address: str | None = None,
    budget_evaluations: int | None = None,
    budget_seconds: float | None = None,
    device: str | None = None,
    controller: RunController | None = None,
    on_event: Callable[[str, int | None, RunProgress], None] | None = None,
    evaluate_fn: Callable[..., Result] | None = None,
    on_plan: Callable[[ResumePlan], None] | None = None,
) -> RunSummary:
    """Go on with a stored run until its budget is spent. Settings not given are the run's own;
    ``budget_evaluations`` may raise the total to extend a finished run."""
    plan = prepare_resume(store, run_id)
    cfg = plan.config
    if on_plan is not None:
        on_plan(plan)
    searcher = searcher if searcher is not None else build_searcher(cfg)
    try:
        searcher.replay(store.trials(plan.run_id))
    except NasbotVizError as err:
        raise RunError(f"cannot replay run {plan.run_id} into its searcher: {err}") from None
    task = task if task is not None else build_task(cfg)
    budget_evaluations = budget_evaluations if budget_evaluations is not None else cfg.get("budget_evaluations")
    budget_seconds = budget_seconds if budget_seconds is not None else cfg.get("budget_seconds")
    if budget_evaluations is None and budget_seconds is None and controller is None:
        raise RunError(f"run {plan.run_id} has no budget recorded; give budget_evaluations or budget_seconds")
    updates: dict[str, Any] = {"resumes": int(cfg.get("resumes", 0)) + 1}
    if budget_evaluations != cfg.get("budget_evaluations"):
        updates["budget_evaluations"] = budget_evaluations
    owned = executor is None
    if executor is None:
        kind = executor_kind or ("dask" if address else cfg.get("executor", "thread"))
        if kind not in ("inline", "thread", "process", "dask"):
            kind = "thread"
        address = address if address is not None else (cfg.get("dask") if kind == "dask" else None)
        executor = make_executor(kind, workers or int(cfg.get("workers") or 1), address=address)
    store.update_run_config(plan.run_id, updates)
    try:
        return run_search(searcher, task, store, executor, budget_evaluations=budget_evaluations,
                          budget_seconds=budget_seconds, run_id=plan.run_id, controller=controller,
                          on_event=on_event, epochs=cfg.get("epochs"), seed=int(cfg.get("seed") or 0),
                          device=device or cfg.get("device") or "auto", evaluate_fn=evaluate_fn,
                          time_limit=cfg.get("time_limit"))
    finally:
        if owned:
            executor.shutdown(wait=False, cancel_futures=True)


__all__ = ["ResumePlan", "build_searcher", "build_task", "prepare_resume", "resume_run"]
