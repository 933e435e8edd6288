"""A vectorised int64 → int64 hash map (open addressing, linear probing) for pair lookups.

A GP asks for tens of thousands of already-known pairs at a time; a Python dict costs ~1 µs per
pair and a sorted array with `searchsorted` ~0.1 µs; this costs a few gathers per batch.
"""

from __future__ import annotations

import numpy as np

_EMPTY = np.int64(-1)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


class PairIndex:
    """Maps non-negative int64 keys to int64 values; batch `get` and `put`, load factor ≤ 1/2."""

    def __init__(self, capacity: int = 1 << 12):
        bits = max(4, int(np.ceil(np.log2(max(capacity, 16)))))
        self._alloc(bits)
        self.size = 0

    def _alloc(self, bits: int) -> None:
        self._bits = bits
        self._mask = np.int64((1 << bits) - 1)
        self._keys = np.full(1 << bits, _EMPTY, dtype=np.int64)
        self._vals = np.zeros(1 << bits, dtype=np.int64)

    def __len__(self) -> int:
        return self.size

    def _hash(self, q: np.ndarray) -> np.ndarray:
        h = q.astype(np.uint64) * _GOLDEN  # wraps modulo 2**64: Fibonacci hashing
        return (h >> np.uint64(64 - self._bits)).astype(np.int64)

    def get(self, q: np.ndarray) -> np.ndarray:
        """Value of each key in q (any shape), -1 where absent."""
        flat = np.ascontiguousarray(q, dtype=np.int64).ravel()
        out = np.full(flat.shape, -1, dtype=np.int64)
        pending = np.arange(flat.size)
        want = flat
        h = self._hash(flat)
        while pending.size:
            k = self._keys[h]
            hit = k == want
            if hit.any():
                out[pending[hit]] = self._vals[h[hit]]
            go_on = ~hit & (k != _EMPTY)
            pending, want, h = pending[go_on], want[go_on], (h[go_on] + 1) & self._mask
        return out.reshape(np.shape(q))

    def put(self, keys: np.ndarray, values: np.ndarray) -> None:
        """Insert keys that are unique and not yet present."""
        keys = np.ascontiguousarray(keys, dtype=np.int64).ravel()
        values = np.ascontiguousarray(values, dtype=np.int64).ravel()
        if 2 * (self.size + keys.size) > self._keys.size:
            old = self._keys != _EMPTY
            old_keys, old_vals = self._keys[old], self._vals[old]
            bits = self._bits
            while 2 * (self.size + keys.size) > (1 << bits):
                bits += 1
            self._alloc(bits)
            self._insert(old_keys, old_vals)
        self._insert(keys, values)
        self.size += keys.size

    def _insert(self, keys: np.ndarray, values: np.ndarray) -> None:
        h = self._hash(keys)
        while keys.size:
            free = self._keys[h] == _EMPTY
            # Several new keys may want the same free slot: the first of each takes it.
            slots, first = np.unique(h[free], return_index=True)
            winners = np.flatnonzero(free)[first]
            self._keys[slots] = keys[winners]
            self._vals[slots] = values[winners]
            left = np.ones(keys.size, dtype=bool)
            left[winners] = False
            keys, values, h = keys[left], values[left], (h[left] + 1) & self._mask
