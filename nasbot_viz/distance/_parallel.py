"""Spreading a batch of OT pairs over the calling process and a reused pool of spawned workers.

Never forks (safe inside a server and from any thread): the pool uses the 'spawn' context, is
created on first need and then reused. The calling process computes chunks from the front of
the batch while started workers take chunks from the back, so a pool that is still starting
(spawning and importing POT takes seconds) never makes a call slower. Workers receive only the few small arrays of the networks in their chunk.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import sys
import threading
import time
import types
from contextlib import contextmanager
from concurrent.futures import Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from nasbot_viz._process import exit_with_parent
from nasbot_viz.distance.config import OTMANNConfig
from nasbot_viz.distance.core import Features, group_side, solve_many

# Below this many pairs (≈ 60 ms of work) one process is as fast as shipping work around
# (each chunk sent costs ~1.5 ms on either side).
PARALLEL_MIN_PAIRS = 400

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_pool_size = 0
_ready: Future | None = None  # done once a worker process has started and imported us
stats = {"chunks_to_workers": 0, "pairs_to_workers": 0}  # observability for tests and benchmarks


def resolve_n_jobs(n_jobs: int | None) -> int:
    """n_jobs ≤ 0 or None means every core; 1 disables worker processes."""
    cores = os.cpu_count() or 1
    if n_jobs is None or n_jobs <= 0:
        return cores
    return int(n_jobs)


@contextmanager
def _main_module_hidden():
    """Spawned children re-import the parent's __main__ (a user script, a server's entry point,
    possibly UI libraries) unless it is absent; our workers need none of it, so hide it while
    they start. An unguarded script then still works instead of failing in every child."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


def get_pool(workers: int) -> tuple[ProcessPoolExecutor, Future]:
    """The shared spawn-context pool with at least `workers` processes (created lazily), and a
    future that completes once its first worker is up."""
    global _pool, _pool_size, _ready
    with _lock:
        if _pool is None or _pool_size < workers or _ready is None:
            if _pool is not None:
                _pool.shutdown(wait=False, cancel_futures=True)
            _pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=exit_with_parent, initargs=(os.getpid(),))
            _pool_size = workers
            with _main_module_hidden():  # each submit below starts one worker process
                _ready = _pool.submit(_noop)
                for _ in range(workers - 1):
                    _pool.submit(_noop)
        return _pool, _ready


def shutdown_pool() -> None:
    """Stop the worker processes (they are restarted on the next large batch)."""
    global _pool, _pool_size, _ready
    with _lock:
        if _pool is not None:
            _pool.shutdown(wait=True, cancel_futures=True)
        _pool, _pool_size, _ready = None, 0, None


def _discard_pool(pool: ProcessPoolExecutor) -> None:
    global _pool, _pool_size, _ready
    with _lock:
        if _pool is pool:
            _pool, _pool_size, _ready = None, 0, None
    pool.shutdown(wait=False, cancel_futures=True)


atexit.register(shutdown_pool)


def warm_up(n_jobs: int = 2) -> None:
    """Start the worker processes now (spawning takes ~2 s) so the first big batch does not wait."""
    workers = resolve_n_jobs(n_jobs) - 1
    if workers > 0:
        get_pool(workers)


def _noop() -> None:
    return None


def _cpu_seconds() -> float:
    return time.process_time()


def worker_cpu_seconds(timeout: float = 60.0) -> float | None:
    """CPU seconds used so far by the (single) worker process, for benchmarks; None without a pool."""
    with _lock:
        pool = _pool
    if pool is None:
        return None
    return pool.submit(_cpu_seconds).result(timeout=timeout)


def _solve_chunk(feats: list[Features], pi: np.ndarray, pj: np.ndarray, config: OTMANNConfig) -> np.ndarray:
    return solve_many(feats, pi, pj, config)


def _payload(feats: list[Features], pi: np.ndarray, pj: np.ndarray):
    """Only the networks a chunk touches, with the pair indices renumbered into that short list."""
    used, inverse = np.unique(np.concatenate([pi, pj]), return_inverse=True)
    return [feats[k] for k in used.tolist()], inverse[: len(pi)], inverse[len(pi):]


def _guided_bounds(n: int, jobs: int) -> list[tuple[int, int]]:
    """Chunks shrinking towards the middle: the caller works from the front and the workers from
    the back, so both sides finish on small chunks and neither waits long for the other."""
    sizes = []
    left = n
    while left > 0:
        c = min(left, int(np.clip(left // (4 * jobs), 48, 256)))
        sizes.append(c)
        left -= c
    layout = sizes[0::2] + sizes[1::2][::-1]
    ends = np.cumsum(layout).tolist()
    return [(e - c, e) for c, e in zip(layout, ends)]


def compute_pairs(
    feats: list[Features], pi: np.ndarray, pj: np.ndarray, config: OTMANNConfig, n_jobs: int = 2
) -> np.ndarray:
    """Distances (len(pi), 2·pairs) for pairs (feats[pi[r]], feats[pj[r]]), on up to n_jobs processes."""
    n = len(pi)
    jobs = resolve_n_jobs(n_jobs)
    if jobs <= 1 or n < PARALLEL_MIN_PAIRS:
        return solve_many(feats, pi, pj, config)
    workers = jobs - 1
    out = np.empty((n, 2 * config.num_pairs))
    # Chunks of pairs sharing a network: they are solved side by side and ship few networks.
    order = np.argsort(pj if group_side(pi, pj) else pi, kind="stable")
    bounds = _guided_bounds(n, jobs)
    front, back = 0, len(bounds)
    inflight: dict[Future, int] = {}
    pool, ready = get_pool(workers)
    local = {"pairs": 0, "seconds": 0.0}

    def run_local(c: int) -> None:
        s, e = bounds[c]
        idx = order[s:e]
        t = time.perf_counter()
        out[idx] = solve_many(feats, pi[idx], pj[idx], config)
        local["seconds"] += time.perf_counter() - t
        local["pairs"] += e - s

    def collect(done) -> None:
        for fut in done:
            res = fut.result()
            s, e = bounds[inflight.pop(fut)]
            out[order[s:e]] = res

    try:
        while front < back:
            # Workers take chunks only once started: a cold pool never makes a call slower.
            while ready.done() and len(inflight) < 2 * workers and back - 1 > front:
                s, e = bounds[back - 1]
                idx = order[s:e]
                fut = pool.submit(_solve_chunk, *_payload(feats, pi[idx], pj[idx]), config)
                back -= 1
                inflight[fut] = back
                stats["chunks_to_workers"] += 1
                stats["pairs_to_workers"] += e - s
            if front < back:
                run_local(front)
                front += 1
            if inflight:
                collect([f for f in inflight if f.done()])
        # Give a worker about as long as its chunk would take here; past that (a starved or
        # dead worker) redo the chunk locally and drop the late result, so a call is never
        # much slower than one process.
        per_pair = local["seconds"] / max(local["pairs"], 1)
        for fut, c in list(inflight.items()):
            if fut not in inflight:
                continue
            s, e = bounds[c]
            wait([fut], timeout=min(1.0, 1.5 * per_pair * (e - s)))
            if fut.done():
                collect([fut])
            else:
                fut.cancel()
                run_local(inflight.pop(fut))
            collect([f for f in inflight if f.done()])
        inflight.clear()
    except BrokenProcessPool:
        _discard_pool(pool)
        for c in list(inflight.values()) + list(range(front, back)):
            run_local(c)
    return out
