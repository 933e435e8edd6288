"""A task's parameter budget steers the search: mutations never propose what the task refuses."""

from __future__ import annotations

import pickle

from nasbot_viz.run import make_executor, run_search
from nasbot_viz.search import NASBOT, RandomSearch
from nasbot_viz.store import MemoryStore
from nasbot_viz.train import get_task, plan_network
from nasbot_viz.train.feasibility import ParameterBudget, feasibility


def test_budget_predicate_matches_the_plan_and_pickles():
    task = get_task("synthetic-cnn", max_params=200_000)
    check = feasibility(task)
    assert check == pickle.loads(pickle.dumps(check))
    from nasbot_viz.arch.zoo import library_examples

    for arch in library_examples("cnn"):
        n = plan_network(arch, check.input_shape, check.num_outputs).num_params
        assert check(arch) == (n <= 200_000)


def test_searchers_with_a_budget_only_propose_networks_within_it():
    budget = ParameterBudget((1, 8, 8), 10, 300_000)
    for searcher in (RandomSearch(kind="cnn", seed=3, feasible=budget),
                     NASBOT(kind="cnn", seed=3, feasible=budget, acquisition_budget=30)):
        pool_size = len(searcher.initial_pool)
        for step in range(pool_size + 6):
            [p] = searcher.ask()
            if p.origin != "pool":
                assert budget(p.architecture), f"{type(searcher).__name__} proposed an over-budget network"
            searcher.tell(p.trial_id, float(step % 5))


def test_run_loop_passes_the_task_budget_to_the_searcher():
    task = get_task("synthetic-cnn", max_params=300_000)
    searcher = RandomSearch(kind="cnn", seed=0)
    store = MemoryStore()
    summary = run_search(searcher, task, store, make_executor("inline"), budget_evaluations=30)
    assert searcher.feasible is not None
    trials = store.trials(summary.run_id)
    mutated = [t for t in trials if t.origin != "pool"]
    assert mutated
    assert not [t for t in mutated if t.failure_reason and "too large" in t.failure_reason]
