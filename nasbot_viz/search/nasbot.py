"""NASBOT: GP-based Bayesian optimisation over architectures with the OTMANN kernel (reference §6–§9).

Each proposal: fit the GP to the told trials (values turned into "larger is better"), hallucinate
the pending ones at the posterior mean, and maximise the acquisition (EI by default) with the
evolutionary optimiser, starting from the initial pool plus the best observed networks. The
chosen network's lineage (pool or observed ancestor, modifiers) and the model's view of it
(posterior mean, std, acquisition value, in the user's direction) travel with the proposal.

Deviation from the authors' code: their GA always restarts from the fixed initial pool; we add
the ``ga_top_k`` best observed networks to that pool, so good networks found earlier can be
refined by later steps. ``ga_top_k=0`` gives the authors' behaviour.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from nasbot_viz.acquisition import ACQUISITIONS, make_acquisition
from nasbot_viz.arch.modifiers import mutate
from nasbot_viz.errors import SearchError
from nasbot_viz.model.gp import OTMANNGP
from nasbot_viz.optimise.evolutionary import OptimiserResult, acquisition_budget, maximise_acquisition
from nasbot_viz.records import ModelView, Proposal
from nasbot_viz.search.base import BaseSearcher

_GP_OPTIONS = ("tuning", "num_random", "num_restarts", "max_iter")


class NASBOT(BaseSearcher):
    """NASBOT with ask/tell. ``acquisition`` is 'ei' (default), 'ucb' or 'ts'.

    ``acquisition_budget`` fixes the number of acquisition evaluations per proposal (default: the
    paper's ``clip(25·√t, 50, 500)``); ``gp_options`` are passed to `OTMANNGP` (e.g.
    ``{"tuning": "sampling"}`` for the authors' hyperparameter sampling); ``cache`` is a shared
    `DistanceCache` (one is made if omitted).
    """

    method = "nasbot"

    def __init__(
        self,
        *,
        acquisition: str = "ei",
        acquisition_budget: int | None = None,
        ga_top_k: int = 10,
        gp_options: Mapping[str, Any] | None = None,
        cache: Any = None,
        n_jobs: int = 2,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if acquisition not in ACQUISITIONS:
            raise SearchError(f"unknown acquisition {acquisition!r}; choose one of {list(ACQUISITIONS)}")
        if acquisition_budget is not None and (not isinstance(acquisition_budget, int) or acquisition_budget < 1):
            raise SearchError(f"acquisition_budget must be a positive integer or None, got {acquisition_budget!r}")
        gp_options = dict(gp_options or {})
        unknown = sorted(set(gp_options) - set(_GP_OPTIONS))
        if unknown:
            raise SearchError(f"unknown gp_options {unknown}; known: {list(_GP_OPTIONS)}")
        self.acquisition = acquisition
        self.acquisition_budget = acquisition_budget
        self.ga_top_k = int(ga_top_k)
        self.gp_options = gp_options
        self.n_jobs = n_jobs
        self._cache = cache
        self._model: OTMANNGP | None = None
        self._model_key: tuple[int, ...] | None = None
        self._last: dict[str, Any] | None = None

    def config(self) -> dict[str, Any]:
        return {
            **super().config(),
            "acquisition": self.acquisition,
            "acquisition_budget": self.acquisition_budget,
            "ga_top_k": self.ga_top_k,
            "gp_options": dict(self.gp_options),
            "n_jobs": self.n_jobs,
        }

    @property
    def cache(self) -> Any:
        if self._cache is None:
            from nasbot_viz.distance import DistanceCache

            self._cache = DistanceCache(n_jobs=self.n_jobs)
        return self._cache

    # ------------------------------------------------------------------------ model
    def fit_model(self) -> OTMANNGP | None:
        """The GP on the told trials (refit only when the told set changed); None before any."""
        ids, archs, values = self.observations()
        if not ids:
            return None
        key = tuple(ids)
        if self._model is None or self._model_key != key:
            y = np.array([self.internal(v) for v in values])
            gp = OTMANNGP(self.cache, rng=self.rng(len(ids), "fit"), **self.gp_options)
            self._model = gp.fit(archs, y)
            self._model_key = key
        return self._model

    def _on_change(self) -> None:
        pass  # the model is keyed by the told set; nothing to invalidate eagerly

    # ------------------------------------------------------------------------ proposing
    def _propose(self, trial_id: int) -> Proposal:
        rng = self.rng(trial_id)
        model = self.fit_model()
        if model is None:  # nothing told yet: a random walk from the pool, like RandomSearch
            return self._random_proposal(trial_id, rng)
        _, told_archs, values = self.observations()
        internal = np.array([self.internal(v) for v in values])
        pending = [t.proposal.architecture for _, t in self.trials_in("pending")]
        t = max(int(trial_id), 1)
        acq = make_acquisition(
            self.acquisition, model, best=float(internal.max()), t=t, rng=rng, pending=pending
        )
        pool = self._ga_pool(told_archs, internal)
        result = maximise_acquisition(
            acq,
            pool,
            rng,
            t,
            constraints=self.search_space,
            budget=self.acquisition_budget,
            exclude_ids=self.known_ids(),
        )
        best = result.best
        if best is None:
            return self._random_proposal(trial_id, rng)
        root, mods = result.lineage(result.best_index)  # type: ignore[arg-type]
        view = ModelView(
            mean=self.external(best.mean),
            std=float(best.std),
            acquisition=float(best.acquisition),
            acquisition_name=self.acquisition,
        )
        self._last = {"trial_id": trial_id, "model": model, "result": result}
        return Proposal(
            trial_id,
            best.architecture,
            self.parent_trial(result.candidates[root].architecture),
            mods,
            view,
            "mutation",
        )

    def _ga_pool(self, told_archs: list, internal: np.ndarray) -> list:
        """The evolution's start: told members of the initial pool plus the top-k told networks."""
        told_ids = {a.id for a in told_archs}
        pool = [a for a in self.initial_pool if a.id in told_ids]
        if self.ga_top_k > 0:
            order = np.argsort(-internal, kind="stable")[: self.ga_top_k]
            pool += [told_archs[i] for i in order]
        return pool or list(told_archs)

    def _random_proposal(self, trial_id: int, rng: np.random.Generator) -> Proposal:
        known = self.known_ids()
        roots = self.initial_pool
        for _ in range(self.max_attempts):
            root = roots[int(rng.integers(len(roots)))]
            out = mutate(root, rng, self.search_space)
            if out is not None and out[0].id not in known:
                return Proposal(trial_id, out[0], self.parent_trial(root), tuple(out[1]), None, "mutation")
        raise SearchError(
            f"could not find a new network in {self.max_attempts} mutations of the pool; "
            "the constraints may be too tight"
        )

    # ------------------------------------------------------------------------ explorer
    def snapshot(self, max_candidates: int | None = 50) -> dict[str, Any]:
        """The model that chose the latest proposal: its posterior at every told trial, and the
        ``max_candidates`` best new networks its acquisition optimiser scored (None: all), best
        first, so ``chosen`` is 0. Pool members and observed networks are left out."""
        return super().snapshot(max_candidates=max_candidates)

    def _snapshot_extra(self, max_candidates: int | None = 50) -> dict[str, Any]:
        if self._last is None:
            return {}
        model: OTMANNGP = self._last["model"]
        result: OptimiserResult = self._last["result"]
        _, archs, _ = self.observations()
        mean, std = model.posterior(archs) if archs else (np.zeros(0), np.zeros(0))
        hp = model.hyperparameters
        cands = result.candidates
        order = sorted(
            (i for i, c in enumerate(cands) if c.eligible), key=lambda i: (-cands[i].acquisition, i)
        )
        if max_candidates is not None:
            order = order[: max(int(max_candidates), 1)]
        return {
            "model": {
                "trial_id": self._last["trial_id"],
                "acquisition_name": self.acquisition,
                "num_train": model.num_train,
                "hyperparameters": hp.to_dict() if hp is not None else None,
                "log_marginal_likelihood": model.log_marginal_likelihood(),
                "cholesky": model.cholesky_method,
                "num_candidates": len(cands),
                "budget": result.budget,
            },
            "mean": [self.external(m) for m in mean],
            "std": [float(s) for s in std],
            "candidates": [
                {
                    "arch": cands[i].architecture.to_dict(),
                    "arch_id": cands[i].architecture.id,
                    "mean": self.external(cands[i].mean),
                    "std": float(cands[i].std),
                    "acquisition": _finite(cands[i].acquisition),
                    "parent_arch_id": None if cands[i].parent is None else cands[cands[i].parent].architecture.id,
                    "generation": cands[i].generation,
                }
                for i in order
            ],
            "chosen": 0 if order and order[0] == result.best_index else None,
        }


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None
