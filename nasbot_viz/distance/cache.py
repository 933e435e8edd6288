"""`DistanceCache`: OTMANN distances computed once per pair of architecture ids.

Each architecture gets a small integer index on first sight; its features (masses, path
lengths, label indices) are computed once. A pair (i, j) is stored once under the key
min·2³² + max in a vectorised hash map, so a block lookup for rows × cols costs a few numpy
gathers; only the missing pairs are solved (in parallel for big batches).
"""

from __future__ import annotations

import threading
from typing import Sequence

import numpy as np

from nasbot_viz.arch.architecture import Architecture
from nasbot_viz.distance._pairindex import PairIndex
from nasbot_viz.distance._parallel import compute_pairs
from nasbot_viz.distance.config import DEFAULT_CONFIG, OTMANNConfig
from nasbot_viz.distance.core import Features, KindMismatchError, features

_SHIFT = np.int64(32)


class DistanceCache:
    """Pairwise OTMANN distances for a growing set of architectures, keyed by `Architecture.id`.

    Thread-safe: calls are serialised by a lock (held while missing pairs are solved). Results
    do not depend on n_jobs or on how a set was grown: each pair is solved once, oriented by
    the order in which its two networks were first seen (the authors' j ≥ i for `matrix`).
    """

    def __init__(self, config: OTMANNConfig | None = None, n_jobs: int = 2):
        self.config = config or DEFAULT_CONFIG
        self.n_jobs = n_jobs
        self.variants: list[str] = self.config.variants
        self._nv = len(self.variants)
        self._index: dict[str, int] = {}
        self._feats: list[Features] = []
        self._kind: str | None = None
        self._pairs = PairIndex()  # pair key -> column of _values
        self._values = np.zeros((self._nv, 1024))  # variant-major, so a block gathers contiguously
        self._stored = 0
        self._lock = threading.RLock()
        self.pairs_computed = 0  # OT pairs solved so far (each is `config.num_pairs` solver calls)

    # --------------------------------------------------------------------------- bookkeeping
    def __len__(self) -> int:
        """Number of architectures seen."""
        return len(self._feats)

    @property
    def num_pairs(self) -> int:
        """Number of distinct off-diagonal pairs stored."""
        return self._stored

    @property
    def solver_calls(self) -> int:
        return self.pairs_computed * self.config.num_pairs

    def __contains__(self, arch: Architecture) -> bool:
        return arch.id in self._index

    def indices(self, archs: Sequence[Architecture]) -> np.ndarray:
        """Register the architectures (computing their features once) and return their indices."""
        with self._lock:
            out = np.empty(len(archs), dtype=np.int64)
            index = self._index
            for k, a in enumerate(archs):
                i = index.get(a.id)
                if i is None:
                    f = features(a)
                    if self._kind is None:
                        self._kind = f.kind
                    elif f.kind != self._kind:
                        raise KindMismatchError(
                            f"this distance cache holds {self._kind.upper()}s; cannot add {f.kind.upper()} {a!r}"
                        )
                    i = len(self._feats)
                    index[a.id] = i
                    self._feats.append(f)
                out[k] = i
            return out

    # --------------------------------------------------------------------------- lookups
    def _store(self, keys: np.ndarray, values: np.ndarray) -> None:
        """Add new (unique, absent) keys with their distance rows (len(keys), variants)."""
        n = len(keys)
        need = self._stored + n
        if need > self._values.shape[1]:
            grown = np.zeros((self._nv, max(need, 2 * self._values.shape[1])))
            grown[:, : self._stored] = self._values[:, : self._stored]
            self._values = grown
        self._values[:, self._stored : need] = values.T
        self._pairs.put(keys, np.arange(self._stored, need, dtype=np.int64))
        self._stored = need

    def _block(self, ri: np.ndarray, ci: np.ndarray) -> np.ndarray:
        lo = np.minimum.outer(ri, ci)
        hi = np.maximum.outer(ri, ci)
        q = (lo << _SHIFT) | hi
        diag = lo == hi
        slots = self._pairs.get(q)
        missing = (slots < 0) & ~diag
        if missing.any():
            new_keys = np.unique(q[missing])
            pi = new_keys >> _SHIFT
            pj = new_keys & np.int64(0xFFFFFFFF)
            values = compute_pairs(self._feats, pi, pj, self.config, self.n_jobs)
            self.pairs_computed += len(new_keys)
            self._store(new_keys, values)
            slots = self._pairs.get(q)
        slots[diag] = 0
        out = self._values.take(slots.ravel(), axis=1).reshape(self._nv, len(ri), len(ci))
        if diag.any():
            out[:, diag] = 0.0
        return out

    # --------------------------------------------------------------------------- public
    def pairwise(self, rows: Sequence[Architecture], cols: Sequence[Architecture]) -> np.ndarray:
        """Distances (variants, len(rows), len(cols)) in `config.variants` order; solves only new pairs."""
        with self._lock:
            ri = self.indices(rows)
            ci = self.indices(cols)
            if not len(ri) or not len(ci):
                return np.zeros((self._nv, len(ri), len(ci)))
            return self._block(ri, ci)

    def matrix(self, archs: Sequence[Architecture]) -> np.ndarray:
        """The symmetric (variants, n, n) matrix of a set, with an exactly zero diagonal."""
        return self.pairwise(archs, archs)

    def as_dict(self, block: np.ndarray) -> dict[str, np.ndarray]:
        """Name the leading axis of a `pairwise` result by variant."""
        return {name: block[k] for k, name in enumerate(self.variants)}


def otmann_matrix(
    archs: Sequence[Architecture],
    others: Sequence[Architecture] | None = None,
    config: OTMANNConfig | None = None,
    n_jobs: int = 2,
    cache: DistanceCache | None = None,
) -> dict[str, np.ndarray]:
    """The 8 OTMANN matrices between `archs` and `others` (default: `archs`, symmetric, zero diagonal)."""
    if cache is None:
        cache = DistanceCache(config, n_jobs=n_jobs)
    elif config is not None and config != cache.config:
        raise ValueError("the given cache was built with a different OTMANNConfig")
    block = cache.pairwise(archs, archs if others is None else others)
    return cache.as_dict(block)
