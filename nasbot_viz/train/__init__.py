"""Training: architectures become PyTorch networks and are trained on real data.

Importing this package does not import torch: `get_task`, `TASKS`, `evaluate` on the synthetic
tasks and the plan (shapes, parameters, FLOPs) work without it. `build_module`, `count_params`
and `count_flops` load torch on first use, as does `evaluate` on a real task.
"""

from __future__ import annotations

from typing import Any

from nasbot_viz.train.evaluate import evaluate
from nasbot_viz.train.plan import NetworkPlan, plan_network
from nasbot_viz.train.tasks import TASKS, USER_DATA_HELP, Task, get_task

__all__ = [
    "TASKS", "USER_DATA_HELP", "Task", "get_task", "evaluate", "plan_network", "NetworkPlan",
    "build_module", "count_params", "count_flops", "load_dataset",
]

_LAZY = {
    "build_module": "nasbot_viz.train.builder",
    "count_params": "nasbot_viz.train.builder",
    "count_flops": "nasbot_viz.train.builder",
    "load_dataset": "nasbot_viz.train.data",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'nasbot_viz.train' has no attribute {name!r}")
