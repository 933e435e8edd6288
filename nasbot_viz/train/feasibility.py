"""What a task can train at all, as a cheap check on an architecture (no torch, no training).

Searchers take it as `feasible=` so that the acquisition optimiser never proposes a network the
task would refuse (for example one over the task's parameter budget): such a proposal would cost
a trial and teach the model nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from nasbot_viz.arch.architecture import Architecture
from nasbot_viz.train.plan import plan_network


@dataclass(frozen=True)
class ParameterBudget:
    """Picklable predicate: the network, built for this data shape, has at most `max_params` weights."""

    input_shape: tuple[int, ...]
    num_outputs: int
    max_params: int

    def __call__(self, arch: Architecture) -> bool:
        try:
            return plan_network(arch, self.input_shape, self.num_outputs).num_params <= self.max_params
        except (ValueError, ArithmeticError):
            return False

    def describe(self) -> str:
        return f"at most {self.max_params:,} parameters"


def feasibility(task) -> ParameterBudget:
    """The task's size check. Reads the dataset's shape (synthetic tasks use their nominal shape)."""
    from nasbot_viz.train.tasks import get_task

    task = get_task(task)
    budget = int(task.option("max_params", 10_000_000))
    if task.dataset == "synthetic":
        from nasbot_viz.train.synthetic import NOMINAL_SHAPES

        shape, outputs = NOMINAL_SHAPES[task.kind]
        return ParameterBudget(tuple(shape), int(outputs), budget)
    from nasbot_viz.train.data import load_dataset

    data = load_dataset(task)
    return ParameterBudget(tuple(data.input_shape), int(data.num_outputs), budget)
