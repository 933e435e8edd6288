"""A 2-D map of the search: t-SNE of OTMANN distances that grows without jumping.

Why these choices (perf_anchors §3.3, ui_anchors §4.4):
- openTSNE on the precomputed distance matrix, exact neighbours, ``n_jobs=1`` and BLAS/OpenMP
  limited to one thread: on a busy 2-core machine more threads are far slower, not faster.
- New points are placed at the distance-weighted position of their nearest neighbours, then the
  whole map gets a short warm optimisation with early exaggeration off and is aligned to the
  previous layout by Procrustes (rotation/reflection, scale, shift). Old points barely move.
- The distance is OTMANN's normalised ``emd`` with structural coefficient 0.61 (``emd_s0.61``):
  normalised, so big networks do not dominate; a middle structural weight, so both layer labels
  and graph structure count (reference §5).
Cluster *distances* in a t-SNE map are not meaningful; neighbourhoods are.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

VARIANT = "emd_s0.61"
MIN_TSNE_POINTS = 5


def _threadpool_limit():
    try:
        from threadpoolctl import threadpool_limits

        return threadpool_limits(1)
    except Exception:  # pragma: no cover - threadpoolctl ships with scikit-learn
        import contextlib

        return contextlib.nullcontext()


def _clean(D: np.ndarray) -> np.ndarray:
    """Symmetric, zero diagonal, non-negative, finite: what t-SNE with a precomputed metric needs."""
    D = np.asarray(D, dtype=float)
    D = np.where(np.isfinite(D), D, np.nanmax(np.where(np.isfinite(D), D, 0.0)) + 1.0)
    D = np.maximum(0.5 * (D + D.T), 0.0)
    np.fill_diagonal(D, 0.0)
    return D


def _placeholder(n: int) -> np.ndarray:
    """Too few points for t-SNE: put them on a small circle (shown with a 'too few points' note)."""
    if n == 0:
        return np.zeros((0, 2))
    if n == 1:
        return np.zeros((1, 2))
    angles = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.c_[np.cos(angles), np.sin(angles)]


def procrustes_align(new: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """Rotation R, scale s and shift t so that ``s * (new - mean) @ R + mean_target`` best matches target."""
    from scipy.linalg import orthogonal_procrustes

    mu_n, mu_t = new.mean(0), target.mean(0)
    a, b = new - mu_n, target - mu_t
    if not np.any(a) or not np.any(b):
        return np.eye(2), mu_n, 1.0, mu_t
    R, _ = orthogonal_procrustes(a, b)
    s = float(np.sum(b * (a @ R)) / max(np.sum(a * a), 1e-12))
    return R, mu_n, s, mu_t


def disparity(a: np.ndarray, b: np.ndarray) -> float:
    """Procrustes disparity of two layouts of the same points (0 = identical, ~0.6 = unrelated)."""
    from scipy.spatial import procrustes

    if len(a) < 3:
        return 0.0
    return float(procrustes(a, b)[2])


class IncrementalTSNE:
    """t-SNE of a growing precomputed distance matrix whose earlier rows/columns never change.

    ``update(D)`` takes the full matrix; its first rows are the points seen before, in the same
    order. The first time there are enough points it runs a full fit; afterwards a warm refresh.
    """

    def __init__(self, perplexity: float = 30.0, seed: int = 0, warm_iters: int = 60, full_iters: int = 500):
        self.perplexity = perplexity
        self.seed = seed
        self.warm_iters = warm_iters
        self.full_iters = full_iters
        self.xy = np.zeros((0, 2))
        self.fitted = False
        self.last_method = "none"
        self._n_at_full = 0

    def _perplexity(self, n: int) -> float:
        return float(max(1.0, min(self.perplexity, (n - 1) / 3.0)))

    def _affinities(self, D: np.ndarray):
        from openTSNE import affinity

        return affinity.PerplexityBasedNN(
            D, perplexity=self._perplexity(len(D)), metric="precomputed", method="exact",
            n_jobs=1, random_state=self.seed, verbose=False,
        )

    def _embedding(self, init: np.ndarray, aff):
        from openTSNE import TSNEEmbedding

        return TSNEEmbedding(init, aff, n_jobs=1, negative_gradient_method="bh", random_state=self.seed, verbose=False)

    def _place_new(self, D: np.ndarray, n_old: int) -> np.ndarray:
        """New points start at the inverse-distance-weighted mean of their 3 nearest old neighbours."""
        rng = np.random.default_rng(self.seed + len(D))
        n = len(D)
        scale = float(np.std(self.xy)) if n_old > 1 else 1.0
        out = np.empty((n - n_old, 2))
        for k, i in enumerate(range(n_old, n)):
            d = D[i, :n_old]
            nn = np.argsort(d)[:3]
            w = 1.0 / (d[nn] + 1e-9)
            out[k] = (w[:, None] * self.xy[nn]).sum(0) / w.sum() + rng.normal(0, 0.02 * scale + 1e-6, 2)
        return out

    def full_fit(self, D: np.ndarray) -> np.ndarray:
        D = _clean(D)
        n = len(D)
        if n < MIN_TSNE_POINTS:
            self.xy, self.fitted, self.last_method = _placeholder(n), False, "placeholder"
            return self.xy
        with _threadpool_limit():
            rng = np.random.default_rng(self.seed)
            init = rng.normal(0, 1e-4, (n, 2))
            emb = self._embedding(init, self._affinities(D))
            emb = emb.optimize(250, exaggeration=12, momentum=0.5)
            emb = emb.optimize(self.full_iters, momentum=0.8)
        xy = np.asarray(emb, dtype=float)
        if self.fitted and len(self.xy):
            xy = self._align(xy, len(self.xy))
        self.xy, self.fitted, self.last_method = xy, True, "full"
        self._n_at_full = n
        return xy

    def update(self, D: np.ndarray) -> np.ndarray:
        D = _clean(D)
        n, n_old = len(D), len(self.xy)
        if n < n_old:
            raise ValueError("the distance matrix shrank; start a new IncrementalTSNE")
        if not self.fitted:
            return self.full_fit(D)
        if n == n_old:
            return self.xy
        if n >= 2 * self._n_at_full and n - self._n_at_full >= 20:
            return self.full_fit(D)  # the map doubled since its last full fit: refit, aligned
        init = np.vstack([self.xy, self._place_new(D, n_old)])
        with _threadpool_limit():
            emb = self._embedding(init, self._affinities(D))
            emb = emb.optimize(self.warm_iters, momentum=0.8)
        xy = self._align(np.asarray(emb, dtype=float), n_old)
        self.xy, self.last_method = xy, "warm"
        return xy

    def _align(self, xy: np.ndarray, n_old: int) -> np.ndarray:
        if n_old < 3:
            return xy
        R, mu_n, s, mu_t = procrustes_align(xy[:n_old], self.xy[:n_old])
        return s * (xy - mu_n) @ R + mu_t


DistanceRows = Callable[[Sequence[Any], Sequence[Any]], np.ndarray]


def make_otmann_rows(n_jobs: int = 1) -> DistanceRows:
    """A distance function for `EmbeddingWorker`: OTMANN ``emd_s0.61`` only (one OT solve per pair,
    a quarter of the full 8-variant cost), cached by architecture id."""
    from nasbot_viz.distance import DistanceCache, OTMANNConfig

    cache = DistanceCache(OTMANNConfig(mislabel_coeffs=(1.0,), struct_coeffs=(0.61,)), n_jobs=n_jobs)
    k = cache.variants.index(VARIANT)

    def rows(new: Sequence[Any], everything: Sequence[Any]) -> np.ndarray:
        return np.asarray(cache.pairwise(list(new), list(everything))[k], dtype=float)

    return rows


@dataclass(frozen=True)
class Layout:
    """One published embedding: positions by architecture id, plus how it was computed."""

    ids: tuple[str, ...] = ()
    xy: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    version: int = 0
    method: str = "none"
    seconds: float = 0.0
    pending: int = 0  # architectures waiting for their distances

    def positions(self) -> dict[str, tuple[float, float]]:
        return {a: (float(x), float(y)) for a, (x, y) in zip(self.ids, self.xy)}


class EmbeddingWorker:
    """A background thread that grows the OTMANN matrix and the t-SNE layout as architectures arrive.

    Readers call `layout()` (never blocks on the computation) and compare `version`. Work happens
    in chunks so a big backlog (opening a 1,000-trial run) shows partial progress, not a frozen map.
    """

    def __init__(self, distance_rows: DistanceRows | None = None, *, chunk: int = 25, seed: int = 0,
                 on_update: Callable[[Layout], None] | None = None):
        self._rows = distance_rows or make_otmann_rows()
        self._chunk = chunk
        self._tsne = IncrementalTSNE(seed=seed)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._queue: list[tuple[str, Any]] = []
        self._known: set[str] = set()
        self._ids: list[str] = []
        self._archs: list[Any] = []
        self._D = np.zeros((0, 0))
        self._layout = Layout()
        self.error: str | None = None
        self.on_update = on_update
        self._thread = threading.Thread(target=self._run, name="nasbot-embedding", daemon=True)
        self._thread.start()

    def submit(self, items: Sequence[tuple[str, Any]]) -> None:
        """Queue (arch_id, Architecture) pairs; ones already known are ignored."""
        with self._lock:
            for arch_id, arch in items:
                if arch_id not in self._known:
                    self._known.add(arch_id)
                    self._queue.append((arch_id, arch))
        self._wake.set()

    def layout(self) -> Layout:
        with self._lock:
            return self._layout

    @property
    def busy(self) -> bool:
        with self._lock:
            return bool(self._queue)

    def matrix(self) -> tuple[list[str], np.ndarray]:
        with self._lock:
            return list(self._ids), self._D.copy()

    def stop(self, join_timeout: float | None = None) -> None:
        """Ask the worker to finish; with `join_timeout`, also wait for it (at interpreter exit a
        thread still inside openTSNE's native code can abort the process)."""
        self._stop.set()
        self._wake.set()
        if join_timeout is not None and self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(join_timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            while not self._stop.is_set():
                with self._lock:
                    batch, self._queue = self._queue[: self._chunk], self._queue[self._chunk:]
                    remaining = len(self._queue)
                if not batch:
                    break
                try:
                    self._grow(batch, remaining)
                except Exception as err:  # keep the thread alive; the view shows the message
                    self.error = f"embedding failed: {type(err).__name__}: {err}"

    def _grow(self, batch: list[tuple[str, Any]], remaining: int) -> None:
        t0 = time.perf_counter()
        new_archs = [a for _, a in batch]
        everything = self._archs + new_archs
        rows = self._rows(new_archs, everything)
        n_old, n = len(self._archs), len(everything)
        D = np.zeros((n, n))
        D[:n_old, :n_old] = self._D
        D[n_old:, :] = rows
        D[:, n_old:] = rows.T
        xy = self._tsne.update(D)
        seconds = time.perf_counter() - t0
        with self._lock:
            self._archs = everything
            self._ids = self._ids + [i for i, _ in batch]
            self._D = D
            self._layout = Layout(tuple(self._ids), xy.copy(), self._layout.version + 1,
                                  self._tsne.last_method, seconds, remaining)
            layout = self._layout
        self.error = None
        if self.on_update:
            self.on_update(layout)
