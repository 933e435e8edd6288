"""A recorded-looking run written straight into a store, for tests, benchmarks and the notebook.

The architectures and lineage are real (the paper's initial pool, mutated by the real modifiers);
the objective values and model snapshots are *made up* (a smooth function of size plus noise),
because this only exercises the viewers. Real searches come from `nasbot_viz.run.run_search`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from nasbot_viz.arch import zoo
from nasbot_viz.arch.constraints import Constraints
from nasbot_viz.arch.masses import layer_masses
from nasbot_viz.arch.modifiers import mutate
from nasbot_viz.records import ModelView, Proposal, Result


def _fake_value(arch, rng: np.random.Generator) -> float:
    size = math.log10(float(np.sum(layer_masses(arch))) + 1.0)
    return float(0.05 + 0.04 * (size - 4.5) ** 2 + 0.01 * abs(arch.num_layers - 12) / 12 + rng.normal(0, 0.01))


def fill_store(store: Any, n: int, *, kind: str = "cnn", seed: int = 0, fail_every: int = 0,
               leave_pending: int = 0, snapshots: bool = True, run_id: str | None = None) -> str:
    """Write a finished-looking run of `n` trials (the last `leave_pending` left pending); returns its id."""
    rng = np.random.default_rng(seed)
    run_id = store.create_run({"task": {"name": f"fixture-{kind}", "kind": kind}, "method": "fixture",
                               "direction": "minimize", "budget_evaluations": n, "seed": seed}, run_id=run_id)
    store.set_run_status(run_id, "running")
    pool = zoo.initial_pool(kind, seed=seed)
    archs: list = []
    values: dict[int, float] = {}
    constraints = Constraints()
    for tid in range(n):
        parents: tuple[int, ...] = ()
        mods: tuple = ()
        view = None
        origin = "pool"
        if tid < len(pool):
            arch = pool[tid]
        else:
            done = [t for t in values]
            for _ in range(20):
                ranked = sorted(done, key=lambda t: values[t])[: max(3, len(done) // 4)]
                p = int(rng.choice(ranked))
                out = mutate(archs[p], rng, constraints)
                if out is not None:
                    arch, mods = out
                    parents, origin = (p,), "mutation"
                    break
            else:
                arch = pool[tid % len(pool)]
            view = ModelView(mean=_fake_value(arch, rng), std=float(rng.uniform(0.005, 0.05)),
                             acquisition=float(rng.uniform(0, 0.05)), acquisition_name="ei")
        archs.append(arch)
        store.add_trial(run_id, Proposal(tid, arch, parents, tuple(mods), view, origin))
        if snapshots and view is not None:
            ids = sorted(values)[-200:]
            cands = [{"arch": archs[tid].to_dict(), "mean": view.mean, "std": view.std,
                      "acquisition": view.acquisition}]
            cands += [{"arch": None, "mean": float(rng.normal(0.1, 0.03)), "std": float(rng.uniform(0.01, 0.05)),
                       "acquisition": float(rng.uniform(0, view.acquisition))} for _ in range(9)]
            order = rng.permutation(len(cands))
            cands = [cands[i] for i in order]
            store.add_snapshot(run_id, tid, {
                "trial_ids": ids, "mean": [values[i] + float(rng.normal(0, 0.005)) for i in ids],
                "std": [float(rng.uniform(0.002, 0.02)) for _ in ids], "observed": [values[i] for i in ids],
                "candidates": cands, "chosen": int(np.where(order == 0)[0][0]),
            })
        if tid >= n - leave_pending:
            continue
        store.mark_running(run_id, tid, worker="fixture")
        if fail_every and tid % fail_every == fail_every - 1:
            store.record_result(run_id, tid, Result.failure("out of memory (fixture)"))
            continue
        v = _fake_value(arch, rng)
        values[tid] = v
        store.record_result(run_id, tid, Result(value=v, num_params=int(np.sum(layer_masses(arch)))))
    store.set_run_status(run_id, "finished" if not leave_pending else "running")
    return run_id
