"""`evaluate`: the objective. Top-level and picklable, so process pools and Dask workers can run it.

Everything that can go wrong with an architecture or its training (wrong kind, over the parameter
budget, divergence, out of memory, time limit) comes back as a failed `Result`, so the search goes
on. Only a bad task (unknown name, missing data) or a bad argument raises `TaskError`.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from nasbot_viz.arch.architecture import Architecture
from nasbot_viz.errors import TaskError
from nasbot_viz.records import EpochPoint, Result
from nasbot_viz.train.tasks import Task, get_task


def evaluate(
    architecture: Architecture | Mapping[str, Any],
    task: Task | str,
    epochs: int | None = None,
    seed: int = 0,
    device: str = "auto",
    on_progress: Callable[[EpochPoint], None] | None = None,
    time_limit: float | None = None,
    threads: int = 1,
) -> Result:
    """Train ``architecture`` on ``task`` for ``epochs`` (the task's default if None) and return
    the validation error as ``value`` (lower is better), with test error, parameters, FLOPs, time,
    device and the per-epoch curve. ``on_progress`` is called with each `EpochPoint`.
    ``device``: 'auto' (CUDA when available), 'cpu' or 'cuda'. ``threads`` caps torch's CPU threads
    for this call so parallel workers do not oversubscribe the machine."""
    task = get_task(task) if isinstance(task, str) else task
    if not isinstance(task, Task):
        raise TaskError(f"task must be a Task or a task name, got {type(task).__name__}")
    arch = architecture if isinstance(architecture, Architecture) else Architecture.from_dict(architecture)
    epochs = task.default_epochs if epochs is None else epochs
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1:
        raise TaskError(f"epochs must be a positive integer, got {epochs!r}")
    if device not in ("auto", "cpu", "cuda") and not str(device).startswith("cuda:"):
        raise TaskError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    if time_limit is not None and not time_limit > 0:
        raise TaskError(f"time_limit must be positive seconds, got {time_limit!r}")
    if not isinstance(threads, int) or threads < 1:
        raise TaskError(f"threads must be a positive integer, got {threads!r}")
    if arch.kind != task.kind:
        return Result.failure(
            f"wrong kind: task {task.name} trains {task.kind.upper()}s, got an {arch.kind.upper()}"
            if arch.kind == "mlp" else
            f"wrong kind: task {task.name} trains {task.kind.upper()}s, got a {arch.kind.upper()}",
            extra={"task": task.name, "seed": seed},
        )
    if task.problem == "synthetic":
        from nasbot_viz.train.synthetic import evaluate_synthetic

        return evaluate_synthetic(arch, task, epochs, seed, on_progress)
    from nasbot_viz.train.training import train_and_evaluate  # imports torch: only in workers

    return train_and_evaluate(arch, task, epochs, seed, device, on_progress, time_limit, threads)
