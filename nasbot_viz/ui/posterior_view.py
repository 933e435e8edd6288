"""What the GP believed when it chose a proposal, and the details of the selected trial."""

from __future__ import annotations

import math

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param
from panel.viewable import Viewer

from nasbot_viz.analysis.lineage import describe_modifiers
from nasbot_viz.analysis.posterior import candidate_rows, posterior_rows, summary
from nasbot_viz.ui.hub import RunHub, in_served_session, run_in_background
from nasbot_viz.ui.state import ExplorerState

CAPTION = (
    "**GP posterior.** NASBOT models the objective with a Gaussian process whose kernel is built from "
    "OTMANN distances. Left: for each network the model had seen, its predicted mean ± one standard "
    "deviation (blue) and the value actually observed (black). Right: the candidates the acquisition "
    "optimiser scored (evolution from good networks) — the one with the highest acquisition value "
    "(red ★) became the next proposal. Shows the model that chose the selected trial, or the latest."
)


def _fmt(v) -> str:
    return "–" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.4g}"


class PosteriorView(Viewer):
    state = param.ClassSelector(class_=ExplorerState)

    def __init__(self, state: ExplorerState, hub: RunHub | None = None, **params):
        super().__init__(state=state, **params)
        self.hub = hub
        self.details = pn.pane.Markdown("Select a network (click a point, a node or a row) to see its details.",
                                        margin=(0, 10), styles={"font-size": "13px"})
        self.summary = pn.pane.Markdown("", margin=(0, 10), styles={"color": "#555"})
        # Plots are DynamicMaps fed by Pipes: replacing a HoloViews pane's object re-renders it and, in
        # a served page, swallowed the other updates sent with it.
        self.posterior_pipe = hv.streams.Pipe(data=([], None))
        self.candidate_pipe = hv.streams.Pipe(data=[])
        self.posterior_plot = pn.pane.HoloViews(
            hv.DynamicMap(lambda data: self._posterior_plot(*data), streams=[self.posterior_pipe]),
            sizing_mode="stretch_width", height=260)
        self.candidate_plot = pn.pane.HoloViews(
            hv.DynamicMap(lambda data: self._candidate_plot(data), streams=[self.candidate_pipe]),
            sizing_mode="stretch_width", height=260)
        self.box = pn.Column(self.details, self.summary, sizing_mode="stretch_width")
        self.stale = False
        self.shown_trial: int | None = None  # the trial whose model snapshot is shown
        self._key = None
        state.param.watch(self._on_select, "selected")

    def _on_select(self, _event=None) -> None:
        if in_served_session():
            self.stale = True  # the session's next poll redraws (see hub.in_served_session)
        else:
            self.refresh(force=True)

    def _posterior_plot(self, rows: list[dict], selected: int | None):
        df = pd.DataFrame(rows, columns=["trial_id", "mean", "std", "observed"])
        opts = dict(responsive=True, height=250, xlabel="trial", ylabel="objective", show_grid=True)
        if df.empty:
            df = pd.DataFrame({"trial_id": [0], "mean": [np.nan], "std": [np.nan], "observed": [np.nan]})
            opts["title"] = "no model snapshot"
        else:
            opts["title"] = ""
        df = df.dropna(subset=["mean"]) if df["mean"].notna().any() else df
        # only finite bars: an all-NaN ErrorBars (the placeholder) warns on every render
        err = hv.ErrorBars(df.dropna(subset=["mean", "std"]), kdims=["trial_id"], vdims=["mean", "std"]).opts(
            color="#3182bd", line_width=1, framewise=True)
        mean = hv.Scatter(df, kdims=["trial_id"], vdims=["mean", "std", "observed"], label="GP mean ± std").opts(
            color="#3182bd", size=5, tools=["hover"], framewise=True)
        obs = hv.Scatter(df.dropna(subset=["observed"]), kdims=["trial_id"], vdims=["observed"], label="observed").opts(
            color="black", marker="x", size=7, framewise=True)
        x = selected if selected is not None and selected in set(df["trial_id"]) else np.nan
        plot = err * mean * obs * hv.VLine(x).opts(color="#e6550d", line_dash="dashed")
        return plot.opts(legend_position="top", framewise=True, **opts)

    def _candidate_plot(self, rows: list[dict]):
        df = pd.DataFrame(rows, columns=["index", "mean", "std", "acquisition", "chosen", "layers"])
        opts = dict(responsive=True, height=250, xlabel="candidate", ylabel="acquisition value", show_grid=True)
        if df.empty or df["acquisition"].isna().all():
            df = pd.DataFrame({"index": [0], "mean": [np.nan], "std": [np.nan], "acquisition": [np.nan],
                               "chosen": [False], "layers": [0]})
            opts["title"] = "no acquisition values"
        else:
            opts["title"] = ""
        pts = hv.Scatter(df, kdims=["index"], vdims=["acquisition", "mean", "std", "layers"], label="candidates").opts(
            color="#9ecae1", size=6, line_color="#3182bd", tools=["hover"], framewise=True)
        chosen = hv.Scatter(df[df["chosen"]], kdims=["index"], vdims=["acquisition"], label="chosen").opts(
            color="#d62728", marker="star", size=16, framewise=True)
        return (pts * chosen).opts(legend_position="top", framewise=True, **opts)  # outside: the points fill the plot

    def _details(self, tid: int | None) -> str:
        hub = self.hub
        if tid is None or hub is None or tid not in hub.feed.trials:
            return "Select a network (click a point, a node or a row) to see its details."
        r = hub.feed.trials[tid]
        lines = [f"### Trial {tid} — {r.state}"]
        if r.value is not None:
            lines.append(f"**Objective:** {r.value:.4g}" + ("  ★ best so far" if tid == hub.feed.incumbent() else ""))
        if r.failure_reason:
            lines.append(f"**Failed:** {r.failure_reason}")
        lines.append(f"**Layers:** {len(r.architecture.get('layers', []))} · **id** `{r.arch_id}`")
        if r.parents:
            lines.append(f"**Made from trial {r.parents[0]}** by: {describe_modifiers(r.modifiers) or '—'}")
        else:
            lines.append(f"**Origin:** {r.origin} (no parent)")
        mv = r.model_view or {}
        if mv:
            lines.append(f"**When proposed**, the GP predicted {_fmt(mv.get('mean'))} ± {_fmt(mv.get('std'))}; "
                         f"{mv.get('acquisition_name', 'acquisition')} = {_fmt(mv.get('acquisition'))}")
        res = r.result or {}
        extra = [f"{k.replace('_', ' ')} {_fmt(res[k]) if isinstance(res[k], float) else res[k]}"
                 for k in ("test_error", "num_params", "train_seconds", "device") if res.get(k) is not None]
        if extra:
            lines.append(" · ".join(extra))
        return "\n\n".join(lines)

    def refresh(self, force: bool = False) -> bool:
        hub = self.hub
        if hub is None:
            return False
        sel = self.state.selected
        snap_tid, snap = (sel, hub.snapshot_for(sel)) if sel is not None else (None, None)
        if snap is None:
            snap_tid, snap = hub.latest_snapshot()
        key = (sel, snap_tid, hub.feed.snapshot_version, hub.feed.version if sel is not None else None)
        if key == self._key and not force:
            return False
        self._key = key
        self.shown_trial = snap_tid
        observed = {t: r.value for t, r in hub.feed.trials.items()}
        rows = posterior_rows(snap, observed)
        cands = candidate_rows(snap)
        details = self._details(sel)
        who = f"trial {snap_tid}" if snap_tid is not None else "the latest proposal"
        text = (f"Model that chose **{who}**: " + summary(snap)) if snap else summary(snap)

        def apply(_result=None, _err=None) -> None:
            self.posterior_pipe.send((rows, sel))
            self.candidate_pipe.send(cands)
            self.details.object = details
            self.summary.object = text
            # a fresh pane each time: in a served page some in-place text updates never reached the browser
            self.box.objects = [pn.pane.Markdown(details, margin=(0, 10), styles={"font-size": "13px"}),
                                pn.pane.Markdown(text, margin=(0, 10), styles={"color": "#555"})]

        if in_served_session():
            # Applied in a fresh tick, like the graph view's renders: made directly from this
            # callback, these pane updates reached the server's models but not the browser.
            run_in_background(lambda: None, apply)
        else:
            apply()
        return True

    def __panel__(self):
        return pn.Column(pn.pane.Markdown(CAPTION, styles={"font-size": "12px"}, margin=(0, 10)), self.box, pn.Row(self.posterior_plot, self.candidate_plot, sizing_mode="stretch_width"),
                         sizing_mode="stretch_width")
