"""What the GP believed when it chose a proposal, and the details of the selected trial."""

from __future__ import annotations

import math

import holoviews as hv
import pandas as pd
import panel as pn
import param
from panel.viewable import Viewer

from nasbot_viz.analysis.lineage import describe_modifiers
from nasbot_viz.analysis.posterior import candidate_rows, posterior_rows, summary
from nasbot_viz.ui.hub import RunHub
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
        self.posterior_plot = pn.pane.HoloViews(self._posterior_plot([], None), sizing_mode="stretch_width", height=260)
        self.candidate_plot = pn.pane.HoloViews(self._candidate_plot([]), sizing_mode="stretch_width", height=260)
        self.shown_trial: int | None = None  # the trial whose model snapshot is shown
        self._key = None
        state.param.watch(lambda e: self.refresh(force=True), "selected")

    def _posterior_plot(self, rows: list[dict], selected: int | None):
        df = pd.DataFrame(rows, columns=["trial_id", "mean", "std", "observed"])
        opts = dict(responsive=True, height=250, xlabel="trial", ylabel="objective", show_grid=True)
        if df.empty:
            return hv.Curve([]).opts(title="no model snapshot", **opts)
        err = hv.ErrorBars(df, kdims=["trial_id"], vdims=["mean", "std"]).opts(color="#3182bd", line_width=1)
        mean = hv.Scatter(df, kdims=["trial_id"], vdims=["mean", "std", "observed"], label="GP mean ± std").opts(
            color="#3182bd", size=5, tools=["hover"])
        obs = hv.Scatter(df.dropna(subset=["observed"]), kdims=["trial_id"], vdims=["observed"], label="observed").opts(
            color="black", marker="x", size=7)
        plot = err * mean * obs
        if selected is not None and selected in set(df["trial_id"]):
            plot = plot * hv.VLine(selected).opts(color="#e6550d", line_dash="dashed")
        return plot.opts(legend_position="top_left", **opts)

    def _candidate_plot(self, rows: list[dict]):
        df = pd.DataFrame(rows, columns=["index", "mean", "std", "acquisition", "chosen", "layers"])
        opts = dict(responsive=True, height=250, xlabel="candidate", ylabel="acquisition value", show_grid=True)
        if df.empty or df["acquisition"].isna().all():
            return hv.Curve([]).opts(title="no acquisition values", **opts)
        pts = hv.Scatter(df, kdims=["index"], vdims=["acquisition", "mean", "std", "layers"], label="candidates").opts(
            color="#9ecae1", size=6, line_color="#3182bd", tools=["hover"])
        chosen = hv.Scatter(df[df["chosen"]], kdims=["index"], vdims=["acquisition"], label="chosen").opts(
            color="#d62728", marker="star", size=16)
        return (pts * chosen).opts(legend_position="top_left", **opts)

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
        self.details.object = self._details(sel)
        observed = {t: r.value for t, r in hub.feed.trials.items()}
        rows = posterior_rows(snap, observed)
        with pn.io.hold():
            self.posterior_plot.object = self._posterior_plot(rows, sel)
            self.candidate_plot.object = self._candidate_plot(candidate_rows(snap))
            who = f"trial {snap_tid}" if snap_tid is not None else "the latest proposal"
            self.summary.object = (f"Model that chose **{who}**: " + summary(snap)) if snap else summary(snap)
        return True

    def __panel__(self):
        return pn.Column(pn.pane.Markdown(CAPTION, styles={"font-size": "12px"}, margin=(0, 10)), self.details,
                         self.summary, pn.Row(self.posterior_plot, self.candidate_plot, sizing_mode="stretch_width"),
                         sizing_mode="stretch_width")
