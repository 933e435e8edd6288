"""Searchers behind one ask/tell protocol: `NASBOT` and the paper's baselines `RandomSearch`, `Evolution`.

>>> s = NASBOT(kind="mlp", direction="minimize", seed=0)      # doctest: +SKIP
>>> [p] = s.ask()                                               # doctest: +SKIP
>>> s.tell(p.trial_id, 0.12)                                    # doctest: +SKIP
"""

from nasbot_viz.search.base import BaseSearcher, Searcher
from nasbot_viz.search.baselines import Evolution, RandomSearch
from nasbot_viz.search.nasbot import NASBOT

SEARCHERS = {"nasbot": NASBOT, "random": RandomSearch, "evolution": Evolution}


def make_searcher(method: str, **kwargs) -> BaseSearcher:
    """Build a searcher by name ('nasbot', 'random', 'evolution')."""
    from nasbot_viz.errors import SearchError

    cls = SEARCHERS.get(method)
    if cls is None:
        raise SearchError(f"unknown search method {method!r}; choose one of {sorted(SEARCHERS)}")
    return cls(**kwargs)


__all__ = ["BaseSearcher", "Evolution", "NASBOT", "RandomSearch", "SEARCHERS", "Searcher", "make_searcher"]
