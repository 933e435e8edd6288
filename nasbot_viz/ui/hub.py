"""Per-process, per-run shared work: one store follower and one embedding worker per run.

Sessions (browser tabs, notebooks) poll the hub from their periodic callbacks; the heavy work —
OTMANN rows and t-SNE — happens once per process in the embedding worker thread, not per tab.
Also here: `run_in_background`, which runs slow work (graphviz, transport plans) off the UI
thread and applies the result on the session's IO loop.
"""

from __future__ import annotations

import atexit
import math
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

import pandas as pd

from nasbot_viz.analysis.embedding import EmbeddingWorker, Layout
from nasbot_viz.analysis.feed import PollResult, RunFeed
from nasbot_viz.analysis.lineage import describe_modifiers
from nasbot_viz.arch.architecture import Architecture

_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="nasbot-ui")


def run_in_background(fn: Callable[[], Any], apply: Callable[[Any, BaseException | None], None]) -> Future:
    """Run `fn` on a worker thread; call `apply(result, error)` on the caller's Bokeh document loop.

    In a served session the callback is scheduled with `doc.add_next_tick_callback` (the only
    Bokeh call that is safe from another thread) and runs with that document as `curdoc`; in a
    notebook or a test there is no server loop and it runs as soon as the work is done.
    """
    import panel as pn
    from panel.io.state import set_curdoc

    doc = pn.state.curdoc
    served = doc is not None and getattr(doc, "session_context", None) is not None

    def done(fut: Future) -> None:
        err = fut.exception()
        result = None if err else fut.result()

        def apply_now() -> None:
            try:
                apply(result, err)
            except Exception as exc:  # never let a view's bug kill the loop
                pn.state.log(f"nasbot-viz: background update failed: {exc}")

        if served:
            def in_doc() -> None:
                with set_curdoc(doc):
                    apply_now()

            try:
                doc.add_next_tick_callback(in_doc)
            except Exception:  # the session closed meanwhile
                pass
        else:
            apply_now()

    fut = _POOL.submit(fn)
    fut.add_done_callback(done)
    return fut


def in_served_session() -> bool:
    """True inside a `panel serve` session.

    There, pane updates made from selection watchers (which HoloViews/Bokeh event handling calls)
    reached the server's models but not the browser; the same updates made from the session's
    periodic callback always arrive. So views mark themselves stale and the next poll redraws.
    """
    import panel as pn

    doc = pn.state.curdoc
    return doc is not None and getattr(doc, "session_context", None) is not None


def on_next_tick(fn: Callable[..., Any], *args: Any) -> None:
    """Run `fn(*args)` in a fresh tick of the session's document loop (now, outside a server).

    Selection callbacks from HoloViews streams run while HoloViews holds the document; pane updates
    made there reached the server's models but not the browser. Re-dispatching on the next tick
    lets Panel send them as usual.
    """
    import panel as pn
    from panel.io.state import set_curdoc

    doc = pn.state.curdoc
    if doc is None or getattr(doc, "session_context", None) is None:
        fn(*args)
        return

    def run() -> None:
        with set_curdoc(doc):
            fn(*args)

    doc.add_next_tick_callback(run)


class RunHub:
    """The shared, derived view of one run in one process."""

    def __init__(self, store: Any, run_id: str, distance_rows: Any = None):
        self.store = store
        self.run_id = run_id
        self.feed = RunFeed(store, run_id)
        self.embedding = EmbeddingWorker(distance_rows)
        self._archs: dict[str, Architecture] = {}
        self._snapshots: dict[int, dict[str, Any]] = {}
        self._mod_texts: dict[int, str] = {}  # a trial's modifiers never change once proposed
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []
        self.embedding.on_update = self._layout_ready

    # ------------------------------------------------------------------ following
    def poll(self) -> PollResult:
        res = self.feed.poll()
        if res.new:
            items = []
            for tid in sorted(res.new):
                rec = self.feed.trials[tid]
                try:
                    items.append((rec.arch_id, self.architecture_of(rec)))
                except Exception:  # an unparsable architecture is shown in the table, not the map
                    continue
            self.embedding.submit(items)
        return res

    def close(self, join_timeout: float | None = None) -> None:
        self.embedding.stop(join_timeout)

    # ------------------------------------------------------------------ layout listeners
    def add_listener(self, fn: Callable[[], None]) -> None:
        """Call `fn()` (from the embedding thread) whenever a new layout is published.

        Served sessions use it to schedule an immediate poll on their own IO loop, so a new map
        position is drawn at once rather than at the next periodic poll.
        """
        with self._lock:
            self._listeners.append(fn)

    def remove_listener(self, fn: Callable[[], None]) -> None:
        with self._lock:
            if fn in self._listeners:
                self._listeners.remove(fn)

    def _layout_ready(self, layout: Layout) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for fn in listeners:
            try:
                fn()
            except Exception:  # a closed session must not break the worker
                self.remove_listener(fn)

    # ------------------------------------------------------------------ lookups
    def modifier_text(self, rec: Any) -> str:
        """The trial's modifiers described (cached per trial id)."""
        text = self._mod_texts.get(rec.trial_id)
        if text is None:
            text = self._mod_texts[rec.trial_id] = describe_modifiers(rec.modifiers)
        return text

    def modifier_texts(self, recs: Any) -> dict[int, str]:
        return {r.trial_id: self.modifier_text(r) for r in recs}

    def architecture_of(self, rec: Any) -> Architecture:
        arch = self._archs.get(rec.arch_id)
        if arch is None:
            arch = Architecture.from_dict(rec.architecture)
            self._archs[rec.arch_id] = arch
        return arch

    def architecture(self, trial_id: int) -> Architecture | None:
        rec = self.feed.trials.get(trial_id)
        return None if rec is None else self.architecture_of(rec)

    def snapshot_for(self, trial_id: int | None) -> dict[str, Any] | None:
        if trial_id is None:
            return None
        with self._lock:
            hit = self._snapshots.get(trial_id)
        if hit is not None:
            return hit
        try:
            snap = self.store.snapshot_for(self.run_id, trial_id)
        except Exception:
            snap = None
        if snap is not None:
            with self._lock:
                self._snapshots[trial_id] = snap
        return snap

    def latest_snapshot(self) -> tuple[int | None, dict[str, Any] | None]:
        """The snapshot of the newest proposal that has one (the model that chose the latest proposal)."""
        for tid in reversed(self.feed.order[-50:]):
            snap = self.snapshot_for(tid)
            if snap is not None:
                return tid, snap
        try:
            snap = self.store.latest_snapshot(self.run_id)
        except Exception:
            snap = None
        return (None, snap)

    def changed_layers(self, trial_id: int) -> tuple[Architecture | None, list[int]]:
        """(parent architecture, indices of the child's layers its modifiers changed)."""
        rec = self.feed.trials.get(trial_id)
        if rec is None or not rec.parents or rec.parents[0] not in self.feed.trials:
            return None, []
        parent = self.architecture(rec.parents[0])
        child = self.architecture(trial_id)
        return parent, changed_layers(parent, child, rec.modifiers)

    # ------------------------------------------------------------------ tables
    def layout(self) -> Layout:
        return self.embedding.layout()

    def trials_frame(self) -> pd.DataFrame:
        """One row per trial in first-seen order, with its map position (NaN until placed)."""
        pos = self.layout().positions()
        inc = self.feed.incumbent()
        latest = self.feed.latest()
        rows = []
        for tid in list(self.feed.order):
            r = self.feed.trials[tid]
            x, y = pos.get(r.arch_id, (math.nan, math.nan))
            rows.append({
                "trial_id": tid,
                "arch_id": r.arch_id,
                "state": str(r.state),
                "value": math.nan if r.value is None else float(r.value),
                "parent": r.parents[0] if r.parents else -1,
                "modifiers": self.modifier_text(r) or r.origin,
                "layers": len(r.architecture.get("layers", [])),
                "reason": r.failure_reason or "",
                "x": x,
                "y": y,
                "incumbent": tid == inc,
                "latest": tid == latest,
            })
        cols = ["trial_id", "arch_id", "state", "value", "parent", "modifiers", "layers", "reason", "x", "y",
                "incumbent", "latest"]
        return pd.DataFrame(rows, columns=cols)


def _signature(arch: Architecture, i: int) -> tuple:
    lay = arch.layers[i]
    return (lay.label, lay.units, lay.stride, len(arch.parents[i]), len(arch.children[i]))


def changed_layers(parent: Architecture, child: Architecture, modifiers: Any) -> list[int]:
    """Child layers the modifiers created or changed.

    One modifier: exactly what `apply_with_changes` reports. Several: the last step's exact set plus
    every child layer with no identical (label, units, stride, in/out degree) counterpart in the
    parent, because earlier steps' indices shift as layers are added or removed.
    """
    mods = list(modifiers or ())
    exact: set[int] = set()
    try:
        from nasbot_viz.arch.modifiers import modifier_from_dict

        arch = parent
        for k, m in enumerate(mods):
            arch, idx = modifier_from_dict(dict(m)).apply_with_changes(arch)
            if k == len(mods) - 1 and arch == child:
                exact = {int(i) for i in idx}
    except Exception:
        exact = set()
    if len(mods) == 1 and exact:
        return sorted(exact)
    pool: dict[tuple, int] = {}
    for i in range(parent.num_layers):
        sig = _signature(parent, i)
        pool[sig] = pool.get(sig, 0) + 1
    diff = set()
    for i in range(child.num_layers):
        sig = _signature(child, i)
        if pool.get(sig, 0) > 0:
            pool[sig] -= 1
        else:
            diff.add(i)
    return sorted(exact | diff)


_HUBS: dict[tuple[str, str], RunHub] = {}
_HUBS_LOCK = threading.Lock()


def store_key(store: Any) -> str:
    loc = getattr(store, "location", None) or getattr(store, "path", None)
    if loc and str(loc) not in (":memory:",):
        return str(loc)
    return f"memory-{id(store)}"


def get_hub(store: Any, run_id: str, distance_rows: Any = None) -> RunHub:
    """The process-wide hub for (store, run); created on first use."""
    key = (store_key(store), run_id)
    with _HUBS_LOCK:
        hub = _HUBS.get(key)
        if hub is None:
            hub = _HUBS[key] = RunHub(store, run_id, distance_rows)
        return hub


def drop_hubs(join_timeout: float | None = None) -> None:
    """Stop every hub's worker (tests, server shutdown)."""
    with _HUBS_LOCK:
        for hub in _HUBS.values():
            hub.close(join_timeout)
        _HUBS.clear()


atexit.register(drop_hubs, 10.0)
