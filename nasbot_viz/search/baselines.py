"""The paper's baselines, with the same modifiers and the same ask/tell protocol as NASBOT.

* `RandomSearch` (RAND): random modifier walks. Each proposal picks a root uniformly from the
  initial pool and the told networks and mutates it with 1–5 modifier steps (§7.2), so walks
  continue from wherever earlier walks ended, without looking at any value.
* `Evolution` (EA): the same mutation, but the parent is drawn from the told networks with
  probability ∝ ``exp((f − mean f)/(2·std f))`` (f: values, larger is better), as NASBOT's inner
  optimiser does with the acquisition (§8). No model.
"""

from __future__ import annotations

import numpy as np

from nasbot_viz.arch.architecture import Architecture
from nasbot_viz.arch.modifiers import mutate
from nasbot_viz.errors import SearchError
from nasbot_viz.optimise.evolutionary import parent_probabilities
from nasbot_viz.records import Proposal
from nasbot_viz.search.base import BaseSearcher


class _MutationSearcher(BaseSearcher):
    origin = "mutation"

    def _roots(self) -> tuple[list[Architecture], np.ndarray]:
        raise NotImplementedError

    def _propose(self, trial_id: int) -> Proposal:
        rng = self.rng(trial_id)
        roots, probs = self._roots()
        known = self.known_ids()
        for _ in range(self.max_attempts):
            root = roots[int(rng.choice(len(roots), p=probs))]
            out = mutate(root, rng, self.search_space)
            if out is None or out[0].id in known:
                continue
            child, mods = out
            return Proposal(trial_id, child, self.parent_trial(root), tuple(mods), None, self.origin)
        raise SearchError(
            f"{type(self).__name__} could not find a new network in {self.max_attempts} mutations; "
            "the constraints may be too tight"
        )


class RandomSearch(_MutationSearcher):
    """RAND: random modifier walks from the initial pool and the observed networks."""

    method = "random"
    origin = "random"

    def _roots(self) -> tuple[list[Architecture], np.ndarray]:
        _, told, _ = self.observations()
        seen = {a.id for a in told}
        roots = told + [a for a in self.initial_pool if a.id not in seen]
        return roots, np.full(len(roots), 1.0 / len(roots))


class Evolution(_MutationSearcher):
    """EA: fitness-proportional parents (exp-scaled), NASBOT's mutation operator, no model."""

    method = "evolution"

    def _roots(self) -> tuple[list[Architecture], np.ndarray]:
        _, told, values = self.observations()
        if not told:
            pool = self.initial_pool
            return pool, np.full(len(pool), 1.0 / len(pool))
        f = np.array([self.internal(v) for v in values])
        return told, parent_probabilities(f)
