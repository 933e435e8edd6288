"""The explorer: four linked views and a control bar, for `panel serve`, `nasbot-viz serve` and Jupyter.

`NasbotExplorer` is one session's page (a `Viewer`); `build_app` wraps it in the template shell.
Each session polls the store on a periodic callback (`poll`), which never blocks: reads are
incremental, overlapping polls are skipped, and slow work runs on background threads.
"""

from __future__ import annotations

import threading
import weakref
from pathlib import Path
from typing import Any

import holoviews as hv
import panel as pn
import param
from panel.viewable import Viewer

from nasbot_viz.errors import NasbotVizError, StoreError
from nasbot_viz.ui import runner
from nasbot_viz.ui.controls import ControlPanel, resolve_in_root
from nasbot_viz.ui.embedding_view import EmbeddingView
from nasbot_viz.ui.graph_view import GraphView
from nasbot_viz.ui.hub import RunHub, get_hub
from nasbot_viz.ui.lineage_view import LineageView
from nasbot_viz.ui.posterior_view import PosteriorView
from nasbot_viz.ui.state import ExplorerState
from nasbot_viz.ui.table_view import TrialsTable

DEFAULT_STORE_DIR = Path("runs")
DEFAULT_STORE_NAME = "nasbot.sqlite"
TITLE = "NASBOT explorer"
INTRO = (
    "NASBOT searches for a good neural network by Bayesian optimisation: a Gaussian process predicts how "
    "well an untried network will do from its **OTMANN distance** (an optimal-transport distance between "
    "layer graphs) to the networks already trained, and an evolutionary search of *modifications* of good "
    "networks picks the most promising next one. Press **Start**, then click any network in any view."
)

_EXTENSIONS_LOADED = False


def load_extensions() -> None:
    global _EXTENSIONS_LOADED
    if not _EXTENSIONS_LOADED:
        pn.extension(notifications=True, sizing_mode="stretch_width")
        hv.extension("bokeh", logo=False)
        _EXTENSIONS_LOADED = True


def store_location(path: str | Path | None) -> tuple[Path, Path]:
    """(store folder, store file) from a folder or a file; the folder bounds what 'open run' may read."""
    p = Path(path) if path else DEFAULT_STORE_DIR
    if p.suffix in (".sqlite", ".db", ".sqlite3"):
        return p.parent.resolve(), p.resolve()
    return p.resolve(), (p / DEFAULT_STORE_NAME).resolve()


class NasbotExplorer(Viewer):
    """One explorer page. Give it a store (object, folder or file) and optionally a run to open."""

    state = param.ClassSelector(class_=ExplorerState)

    def __init__(self, store: Any = None, *, run_id: str | None = None, store_path: str | Path | None = None,
                 defaults: runner.SearchSettings | None = None, poll_ms: int = 300, distance_rows: Any = None,
                 read_only: bool = False, **params):
        load_extensions()
        super().__init__(state=ExplorerState(), **params)
        self.defaults = defaults or runner.SearchSettings()
        self.poll_ms = poll_ms
        self.distance_rows = distance_rows
        self.pending_run: runner.ActiveRun | None = None
        self.hub: RunHub | None = None
        self._stores: dict[str, Any] = {}
        if store is None or isinstance(store, (str, Path)):
            self.store_root, self.store_file = store_location(store or store_path)
            self.store_root.mkdir(parents=True, exist_ok=True)
            from nasbot_viz.store import open_store

            self.store = open_store(self.store_file)
        else:
            self.store = store
            self.store_root, self.store_file = (store_location(store_path) if store_path else (None, None))
        self.state.store_path = str(self.store_file or getattr(self.store, "location", "memory"))
        self._polling = False
        self._callback = None
        self.message = pn.pane.Markdown("", visible=False, margin=(0, 10), styles={"font-size": "13px"})
        self.embedding = EmbeddingView(self.state)
        self.lineage = LineageView(self.state)
        self.posterior = PosteriorView(self.state)
        self.graph = GraphView(self.state)
        self.table = TrialsTable(self.state)
        self.controls = ControlPanel(self)
        self.views = (self.embedding, self.lineage, self.posterior, self.graph, self.table)
        self.state.param.watch(self._on_live, "live")
        if run_id is not None:
            self.open_run(run_id, read_only=read_only)

    # ------------------------------------------------------------------ runs
    def store_for(self, name: str | None) -> Any:
        """The main store, or a read-only store file inside the store folder (validated)."""
        if not name or (self.store_file is not None and name == self.store_file.name) or self.store_root is None:
            return self.store
        path = resolve_in_root(self.store_root, name)
        if str(path) not in self._stores:
            from nasbot_viz.store import open_store

            self._stores[str(path)] = open_store(path, readonly=True)
        return self._stores[str(path)]

    def open_run(self, run_id: str, *, store_file: str | None = None, read_only: bool = True) -> None:
        """Show a run (live or finished); views reset and the whole history loads on the next poll."""
        store = self.store_for(store_file)
        try:
            store.get_run(run_id)
        except StoreError:
            raise
        except Exception as err:
            raise StoreError(f"cannot read run {run_id!r}: {err}") from None
        self.attach(get_hub(store, run_id, self.distance_rows), read_only=read_only and runner.find(run_id) is None)
        self.notify(f"Opened run {run_id}" + (" (read-only)." if self.state.read_only else "."), "info")

    def attach(self, hub: RunHub, read_only: bool = False) -> None:
        self._listen(hub)
        self.hub = hub
        for v in self.views:
            v.hub = hub
        with param.parameterized.batch_call_watchers(self.state):
            self.state.selected = None
            self.state.pinned = None
            self.state.run_id = hub.run_id
            self.state.read_only = read_only
        self.poll(force=True)

    def _listen(self, hub: RunHub) -> None:
        """In a served page, poll as soon as the hub publishes a new map layout (on this session's
        IO loop, via `add_next_tick_callback`) instead of waiting up to one poll period."""
        old = getattr(self, "_listening", None)
        if old is not None:
            old[0].remove_listener(old[1])
            self._listening = None
        doc = pn.state.curdoc
        if doc is None or getattr(doc, "session_context", None) is None:
            return
        from panel.io.state import set_curdoc

        ref = weakref.ref(self)
        scheduled = threading.Event()  # at most one pending immediate poll per session

        def tick() -> None:
            scheduled.clear()
            ex = ref()
            cb = None if ex is None else ex._callback
            if cb is not None and cb.running:
                with set_curdoc(doc):
                    ex.poll()

        def on_layout() -> None:
            if not scheduled.is_set():
                scheduled.set()
                doc.add_next_tick_callback(tick)  # thread-safe; raises once the session is gone

        hub.add_listener(on_layout)
        self._listening = (hub, on_layout)
        try:
            pn.state.on_session_destroyed(lambda ctx: hub.remove_listener(on_layout))
        except Exception:
            pass

    # ------------------------------------------------------------------ polling
    def poll(self, force: bool = False) -> None:
        """One tick: read new events, refresh what changed. Skips if a previous tick is still running."""
        if self._polling:
            return
        self._polling = True
        try:
            self._poll(force)
        except Exception as err:  # a view bug must not stop the periodic callback
            self.notify(f"Update failed: {type(err).__name__}: {err}", "error")
        finally:
            self._polling = False

    def _poll(self, force: bool) -> None:
        pending = self.pending_run
        if pending is not None and pending.run_id and (self.hub is None or self.hub.run_id != pending.run_id):
            self.attach(get_hub(self.store, pending.run_id, self.distance_rows))
            self.controls.refresh_runs()
            if self.state.message.startswith("Starting "):
                st = pending.settings
                self.notify(f"Running {st.method} on {st.task} (run {pending.run_id[:12]}): points appear as "
                            "networks are proposed and trained; click one to inspect it.", "info")
        if pending is not None and pending.error and not getattr(pending, "_reported", False):
            pending._reported = True
            self.notify(f"The search stopped with an error: {pending.error}", "error")
        hub = self.hub
        if hub is not None:
            res = hub.poll()
            if res.error:
                self.notify(f"Could not read the store: {res.error}", "warning")
            if self.state.follow_latest and res.new:
                self.state.select(max(res.new))
            if res.status:
                self.state.run_status = res.status
            stale_posterior, self.posterior.stale = self.posterior.stale, False
            stale_graph, self.graph.stale = self.graph.stale, False
            if True:  # no pn.io.hold(): in a served page it swallowed some pane updates
                self.embedding.refresh(force)
                self.lineage.refresh(force)
                self.table.refresh(force)
                self.posterior.refresh(force or stale_posterior)
                if stale_graph or (force and self.state.selected is not None):
                    self.graph.refresh()
        self.controls.refresh()
        self.state.ticks += 1

    def start_polling(self) -> None:
        if self._callback is None:
            self._callback = pn.state.add_periodic_callback(self.poll, period=self.poll_ms, start=self.state.live)

    def _on_live(self, event) -> None:
        if self._callback is not None:
            if event.new and not self._callback.running:
                self._callback.start()
            elif not event.new and self._callback.running:
                self._callback.stop()

    def notify(self, text: str, kind: str = "info") -> None:
        self.state.message = text
        color = {"error": "#a50f15", "warning": "#8c510a"}.get(kind, "#2b5c8a")
        self.message.object = f"<span style='color:{color}'>{'⚠ ' if kind != 'info' else ''}{text}</span>"
        self.message.visible = bool(text)
        notes = getattr(pn.state, "notifications", None)
        if notes is not None and kind in ("error", "warning"):
            try:
                getattr(notes, kind)(text, duration=6000)
            except Exception:
                pass

    # ------------------------------------------------------------------ layout
    def main_area(self) -> pn.viewable.Viewable:
        def box(title: str, view) -> pn.Column:
            return pn.Column(pn.pane.Markdown(f"#### {title}", margin=(0, 10)), view, sizing_mode="stretch_width",
                             styles={"border": "1px solid #ddd", "border-radius": "6px", "background": "white"},
                             margin=(5, 5))

        return pn.Column(
            self.message,
            pn.Row(box("Map of the search (t-SNE of OTMANN distances)", self.embedding),
                   box("Lineage (modifier tree)", self.lineage), sizing_mode="stretch_width"),
            pn.Row(box("Selected trial and the GP posterior", self.posterior),
                   box("Layer graph and transport plan", self.graph), sizing_mode="stretch_width"),
            box("Trials", self.table),
            sizing_mode="stretch_width",
        )

    def __panel__(self):
        pn.state.onload(self.start_polling)
        intro = pn.pane.Markdown(INTRO, styles={"font-size": "13px"}, margin=(0, 10))
        return pn.Row(pn.Column(self.controls, width=300), pn.Column(intro, self.main_area()),
                      sizing_mode="stretch_width")


def build_app(store: Any = None, *, run_id: str | None = None, defaults: runner.SearchSettings | None = None,
              poll_ms: int = 300) -> pn.template.FastListTemplate:
    """The served page: the template is only the shell around the explorer's controls and views."""
    load_extensions()
    explorer = NasbotExplorer(store, run_id=run_id, defaults=defaults, poll_ms=poll_ms, read_only=True)
    pn.state.onload(explorer.start_polling)
    intro = pn.pane.Markdown(INTRO, styles={"font-size": "13px"}, margin=(0, 10))
    template = pn.template.FastListTemplate(title=TITLE, sidebar=[explorer.controls], main=[intro, explorer.main_area()],
                                            sidebar_width=310, accent="#3182bd", header_background="#2b5c8a")
    template.explorer = explorer  # tests and scripts reach the session's explorer through the page
    return template


def check_store(store: str | Path, run_id: str | None = None) -> None:
    """Fail early, with one line, on a store or run that cannot be opened (before the server starts)."""
    from nasbot_viz.store import open_store

    root, file = store_location(store)
    root.mkdir(parents=True, exist_ok=True)
    s = open_store(file)
    try:
        if run_id is not None:
            s.get_run(run_id)
    finally:
        s.close()


def serve(store: str | Path = DEFAULT_STORE_DIR, *, port: int = 5006, address: str = "localhost", show: bool = True,
          run_id: str | None = None, task: str = "digits-cnn") -> None:
    """Serve the explorer until interrupted; each browser tab gets its own page, runs are shared."""
    check_store(store, run_id)
    defaults = runner.SearchSettings(task=task)
    load_extensions()
    hosts = [f"localhost:{port}", f"127.0.0.1:{port}"] if address in ("localhost", "127.0.0.1") else None
    root, _ = store_location(store)
    print(f"nasbot-viz: explorer on http://{address}:{port}/ (store {root}); Ctrl+C to stop", flush=True)
    pn.serve(lambda: build_app(store, run_id=run_id, defaults=defaults), port=port, address=address, show=show,
             title=TITLE, websocket_origin=hosts, threaded=False, start=True, print=False)
