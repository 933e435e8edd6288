"""Running a search: executors, the asynchronous loop, and resume after a crash.

Importing this package loads neither torch nor Dask: training code is imported by the workers
when they evaluate, Dask only when a Dask executor is made.
"""

from nasbot_viz.run.errors import RunError
from nasbot_viz.run.executors import EXECUTOR_KINDS, InlineExecutor, WorkerPool, make_executor
from nasbot_viz.run.loop import RunController, RunProgress, RunSummary, run_search, trial_seed

__all__ = [
    "EXECUTOR_KINDS",
    "InlineExecutor",
    "RunController",
    "RunError",
    "RunProgress",
    "RunSummary",
    "WorkerPool",
    "make_executor",
    "run_search",
    "trial_seed",
]
