"""The control bar: choose and start a search, steer it, follow its progress, open or export runs."""

from __future__ import annotations

import io
import json
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import panel as pn
import param
from panel.viewable import Viewer

from nasbot_viz.errors import NasbotVizError
from nasbot_viz.store.export import export_run
from nasbot_viz.ui import runner
from nasbot_viz.ui.state import ExplorerState

if TYPE_CHECKING:
    from nasbot_viz.ui.app import NasbotExplorer

STORE_SUFFIXES = (".sqlite", ".db", ".sqlite3")


def resolve_in_root(root: Path, name: str) -> Path:
    """A store file named relative to the store folder; anything that escapes the folder is refused."""
    root = Path(root).resolve()
    if not name or "\x00" in name:
        raise NasbotVizError("choose a store file")
    path = (root / name).resolve()
    if path != root and root not in path.parents:
        raise NasbotVizError(f"{name!r} is outside the store folder {root}; only runs inside it can be opened")
    if path.suffix not in STORE_SUFFIXES or not path.is_file():
        raise NasbotVizError(f"{name!r} is not a run store in {root}")
    return path


def _duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "–"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class ControlPanel(Viewer):
    state = param.ClassSelector(class_=ExplorerState)

    def __init__(self, app: "NasbotExplorer", **params):
        super().__init__(state=app.state, **params)
        self.app = app
        from nasbot_viz.train import TASKS

        tasks = [t for t in TASKS if ":" not in t]
        self.task = pn.widgets.Select(name="Task", options=tasks, value=app.defaults.task if app.defaults.task in tasks
                                      else tasks[0], description="What the networks are trained on.")
        self.method = pn.widgets.Select(name="Method", options=runner.METHODS,
                                        value=app.defaults.method)
        self.budget = pn.widgets.IntInput(name="Budget (evaluations)", value=app.defaults.budget, start=1, end=100000)
        self.workers = pn.widgets.IntInput(name="Workers", value=app.defaults.workers, start=1, end=64)
        self.acquisition = pn.widgets.Select(name="Acquisition (NASBOT)", options=list(runner.ACQUISITIONS),
                                             value=app.defaults.acquisition)
        self.seed = pn.widgets.IntInput(name="Seed", value=app.defaults.seed, start=0, end=2**31 - 1)
        self.start = pn.widgets.Button(name="Start", button_type="primary")
        self.pause = pn.widgets.Button(name="Pause", button_type="default")
        self.resume = pn.widgets.Button(name="Resume", button_type="default")
        self.stop = pn.widgets.Button(name="Stop", button_type="default")
        self.step = pn.widgets.Button(name="Step", button_type="default",
                                      description="Pause, then run exactly one proposal and evaluation.")
        for btn, fn in ((self.start, self._start), (self.pause, self._pause), (self.resume, self._resume),
                        (self.stop, self._stop), (self.step, self._step)):
            btn.on_click(fn)
        self.progress = pn.indicators.Progress(value=0, max=1, sizing_mode="stretch_width", bar_color="primary")
        self.progress_text = pn.pane.Markdown("No run yet.", margin=(0, 5))
        self.store_text = pn.pane.Markdown("", margin=(0, 5), styles={"font-size": "12px", "color": "#555"})
        self.run_select = pn.widgets.Select(name="Runs in this store", options={})
        self.file_select = pn.widgets.Select(name="Store file (in the store folder)", options=[])
        self.file_select.param.watch(lambda e: self.refresh_runs(), "value")
        self.open = pn.widgets.Button(name="Open run (read-only)", button_type="default")
        self.open.on_click(self._open)
        self.export = pn.widgets.FileDownload(callback=self._export, filename="run.json", label="Export run (JSON)",
                                              button_type="default", embed=False)
        self.follow = pn.widgets.Checkbox.from_param(app.state.param.follow_latest, name="Select each new proposal")
        self.live = pn.widgets.Checkbox.from_param(app.state.param.live, name="Live updates")
        self.heartbeat = pn.pane.Markdown("", margin=(0, 5), styles={"font-size": "11px", "color": "#777"})
        self._runs_checked = 0.0
        self.refresh_files()
        self.refresh_buttons()

    # ------------------------------------------------------------------ actions
    def settings(self) -> runner.SearchSettings:
        return runner.SearchSettings(task=self.task.value, method=self.method.value, budget=int(self.budget.value),
                                     workers=int(self.workers.value), acquisition=self.acquisition.value,
                                     seed=int(self.seed.value))

    def _start(self, _e=None) -> None:
        try:
            run = runner.start_search(self.settings(), self.app.store)
        except NasbotVizError as err:
            self.app.notify(str(err), "error")
            return
        self.app.pending_run = run
        self.app.notify(f"Starting {self.method.value} on {self.task.value}…", "info")
        self.refresh_buttons()

    def _controlled(self):
        run = runner.find(self.state.run_id) or self.app.pending_run
        return run if run is not None and run.alive else None

    def _pause(self, _e=None) -> None:
        run = self._controlled()
        if run:
            run.controller.pause()
            self.app.notify("Paused: no new proposals; running evaluations finish.", "info")
        self.refresh_buttons()

    def _resume(self, _e=None) -> None:
        run = self._controlled()
        if run:
            run.controller.resume()
            self.app.notify("Resumed.", "info")
        self.refresh_buttons()

    def _stop(self, _e=None) -> None:
        run = self._controlled()
        if run:
            run.controller.stop()
            self.app.notify("Stopping: running evaluations finish, then the run ends.", "info")
        self.refresh_buttons()

    def _step(self, _e=None) -> None:
        run = self._controlled()
        if run:
            run.controller.step()
            self.app.notify("One step: one proposal, evaluated and told to the model.", "info")
        self.refresh_buttons()

    def _open(self, _e=None) -> None:
        run_id = self.run_select.value
        if not run_id:
            self.app.notify("This store holds no runs yet.", "warning")
            return
        try:
            self.app.open_run(run_id, store_file=self.file_select.value, read_only=True)
        except NasbotVizError as err:
            self.app.notify(str(err), "error")

    def _export(self):
        if not self.state.run_id or self.app.hub is None:
            self.app.notify("Open or start a run first.", "warning")
            return io.StringIO("{}")
        data = export_run(self.app.hub.store, self.state.run_id)
        self.export.filename = f"{self.state.run_id}.json"
        return io.StringIO(json.dumps(data, indent=1, default=str))

    # ------------------------------------------------------------------ refresh
    def refresh_files(self) -> None:
        root = self.app.store_root
        files = []
        if root is not None and root.is_dir():
            files = sorted(p.name for p in root.iterdir() if p.suffix in STORE_SUFFIXES and p.is_file())
        main = self.app.store_file.name if self.app.store_file is not None else None
        if main and main not in files:
            files.insert(0, main)
        self.file_select.options = files
        if files and self.file_select.value not in files:
            self.file_select.value = main if main in files else files[0]
        self.refresh_runs()

    def refresh_runs(self) -> None:
        try:
            store = self.app.store_for(self.file_select.value)
            runs = store.list_runs()
        except Exception as err:
            runs = []
            self.app.notify(f"Cannot list the runs in this store: {err}", "warning")
        opts = {}
        for r in reversed(runs):
            cfg = r.get("config") or {}
            task = cfg.get("task") or cfg.get("name") or ""
            if isinstance(task, dict):
                task = task.get("name", "")
            label = f"{r['run_id']} · {task} · {cfg.get('method', '')} · {r.get('status', '')}"
            opts[label] = r["run_id"]
        self.run_select.options = opts
        if opts and self.run_select.value not in opts.values():
            self.run_select.value = next(iter(opts.values()))
        self._runs_checked = time.time()

    def refresh_buttons(self) -> None:
        run = self._controlled()
        owned = run is not None
        paused = owned and run.controller.paused
        self.start.disabled = owned
        self.pause.disabled = not owned or paused
        self.resume.disabled = not owned or not paused
        self.stop.disabled = not owned
        self.step.disabled = not owned
        for w in (self.task, self.method, self.budget, self.workers, self.acquisition, self.seed):
            w.disabled = owned

    def refresh(self) -> None:
        """Progress, ETA and buttons; called on every poll."""
        app = self.app
        run = self._controlled()
        hub = app.hub
        if run is not None and run.controller.progress is not None:
            p = run.controller.progress
            total = p.budget_evaluations or max(1, p.done + p.failed + p.running)
            completed = p.done + p.failed
            self.progress.max = int(total)
            self.progress.value = int(min(completed, total))
            best = f" · best {p.best_value:.4g} (trial {p.best_trial_id})" if p.best_value is not None else ""
            text = (f"**{p.status}** · {completed} / {total} evaluated · {p.running} running · {p.failed} failed"
                    f"{best}<br>elapsed {_duration(p.elapsed)} · ETA {_duration(p.eta_seconds)}")
        elif hub is not None:
            c = hub.feed.counts()
            budget = (hub.feed.config.get("budget_evaluations") or hub.feed.config.get("budget") or 0)
            completed = c.get("done", 0) + c.get("failed", 0)
            total = int(budget) if isinstance(budget, (int, float)) and budget else max(1, len(hub.feed.order))
            self.progress.max = max(1, total)
            self.progress.value = int(min(completed, self.progress.max))
            inc = hub.feed.incumbent()
            best = f" · best {hub.feed.trials[inc].value:.4g} (trial {inc})" if inc is not None else ""
            mode = " (read-only)" if app.state.read_only else ""
            text = (f"**{hub.feed.status}**{mode} · {completed} evaluated · {c.get('running', 0)} running · "
                    f"{c.get('failed', 0)} failed{best}")
        else:
            text = "No run yet: choose a task and press **Start**, or open an existing run below."
        if run is None and app.pending_run is not None and app.pending_run.error:
            text = f"⚠ The search failed: {app.pending_run.error}"
        if text != self.progress_text.object:
            self.progress_text.object = text
        store = app.store_file or getattr(app.store, "location", "in memory")
        run_text = f" · run `{app.state.run_id}`" if app.state.run_id else ""
        st = f"Store: `{store}`{run_text}"
        if st != self.store_text.object:
            self.store_text.object = st
        self.refresh_buttons()
        self.heartbeat.object = f"updated {time.strftime('%H:%M:%S')} · poll {app.state.ticks + 1}"
        if time.time() - self._runs_checked > 5:
            self.refresh_runs()

    def __panel__(self):
        return pn.Column(
            pn.pane.Markdown("### Search", margin=(0, 5)),
            self.task, self.method, self.budget, self.workers, self.acquisition, self.seed,
            pn.Row(self.start, self.step), pn.Row(self.pause, self.resume, self.stop),
            self.progress, self.progress_text, self.follow, self.live, self.heartbeat,
            pn.layout.Divider(),
            pn.pane.Markdown("### Runs", margin=(0, 5)), self.store_text, self.file_select, self.run_select, self.open,
            self.export, sizing_mode="stretch_width",
        )
