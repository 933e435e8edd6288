"""The map: t-SNE of OTMANN distances, one point per trial; tap a point to select it."""

from __future__ import annotations

import math

import holoviews as hv
import numpy as np
import pandas as pd
import panel as pn
import param
from panel.viewable import Viewer

from nasbot_viz.ui.hub import RunHub, on_next_tick
from nasbot_viz.ui.state import ExplorerState

CAPTION = (
    "**Map of the search.** Each point is an evaluated or pending network, placed by t-SNE so that "
    "networks with a small OTMANN distance (the optimal-transport distance NASBOT's GP uses; here the "
    "normalised `emd` with structural weight 0.61) sit close together. Colour = objective "
    "(validation error), marker = state, ★ = best so far, large ring = latest proposal. "
    "Neighbourhoods are meaningful; distances between far clusters are not. Click a point to select it."
)

MARKERS = {"done": "circle", "pending": "triangle", "running": "triangle", "failed": "x", "interrupted": "x"}
COLUMNS = ["x", "y", "trial_id", "value", "state", "modifiers", "arch_id"]


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=float if c in ("x", "y", "value") else object) for c in COLUMNS})


def _same_marks(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame] | None) -> bool:
    return b is not None and a.keys() == b.keys() and all(
        a[k].reset_index(drop=True).equals(b[k].reset_index(drop=True)) for k in a)


class EmbeddingView(Viewer):
    """t-SNE points fed through a Pipe (a single `hv.Points` DynamicMap is the tap source)."""

    state = param.ClassSelector(class_=ExplorerState)

    def __init__(self, state: ExplorerState, hub: RunHub | None = None, **params):
        super().__init__(state=state, **params)
        self.hub = hub
        self.frame = _empty()  # exactly what the Pipe last sent: tap indices map through it
        self.pipe = hv.streams.Pipe(data=self.frame)
        self.marks = hv.streams.Pipe(data=self._marks(_empty()))
        self.points = hv.DynamicMap(self._points, streams=[self.pipe])
        self.selection = hv.streams.Selection1D(source=self.points)
        self.selection.param.watch(self._on_tap, "index")
        self.status = pn.pane.Markdown("Waiting for the first architectures…", margin=(0, 10),
                                       styles={"color": "#555"})
        marks = hv.DynamicMap(self._highlights, streams=[self.marks])
        self.plot = pn.pane.HoloViews(self.points * marks, sizing_mode="stretch_width", height=400)
        self._layout_version = -1
        self._feed_version = -1
        state.param.watch(lambda e: self._send_marks(), ["selected", "pinned"])

    # ------------------------------------------------------------------ drawing
    def _points(self, data: pd.DataFrame) -> hv.Points:
        pts = hv.Points(data, kdims=["x", "y"], vdims=["trial_id", "value", "state", "modifiers", "arch_id"])
        return pts.opts(
            color="value", cmap="viridis_r", colorbar=True, clabel="objective (lower is better)",
            marker=hv.dim("state").categorize(MARKERS, default="circle"), size=10, line_color="#333333",
            line_width=0.5, tools=["tap", "hover"], active_tools=["wheel_zoom", "tap"], nonselection_alpha=0.85,
            clipping_colors={"NaN": "#c8c8c8"}, xaxis=None, yaxis=None, show_grid=False, framewise=True,
            responsive=True, height=390, toolbar="above", title="",
            hover_tooltips=[("trial", "@trial_id"), ("value", "@value{0.0000}"), ("state", "@state"),
                            ("from", "@modifiers")],
        )

    def _marks(self, frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
        def pick(mask):
            return frame.loc[mask, ["x", "y", "trial_id"]] if len(frame) else pd.DataFrame(columns=["x", "y", "trial_id"])

        sel, pin = self.state.selected, self.state.pinned
        return {
            "incumbent": pick(frame["incumbent"]) if "incumbent" in frame else pick([]),
            "latest": pick(frame["latest"]) if "latest" in frame else pick([]),
            "selected": pick(frame["trial_id"] == sel) if len(frame) and sel is not None else pick([]),
            "pinned": pick(frame["trial_id"] == pin) if len(frame) and pin is not None else pick([]),
        }

    def _highlights(self, data: dict[str, pd.DataFrame]) -> hv.Overlay:
        def pts(df, **opts):
            return hv.Points(df, kdims=["x", "y"], vdims=["trial_id"]).opts(tools=[], **opts)

        return (
            pts(data["latest"], size=22, fill_alpha=0, line_color="#e6550d", line_width=2, marker="circle")
            * pts(data["incumbent"], size=20, color="#d62728", marker="star", line_color="white")
            * pts(data["pinned"], size=26, fill_alpha=0, line_color="#3182bd", line_width=3, marker="square")
            * pts(data["selected"], size=28, fill_alpha=0, line_color="black", line_width=3, marker="circle")
        )

    def _send_marks(self) -> None:
        full = getattr(self, "_full", None)
        self._sent_marks = self._marks(full if full is not None else _empty())
        self.marks.send(self._sent_marks)

    # ------------------------------------------------------------------ updates
    def refresh(self, force: bool = False) -> bool:
        """Re-send points when the layout or the trials changed; returns whether anything was sent."""
        hub = self.hub
        if hub is None:
            return False
        layout = hub.layout()
        if not force and layout.version == self._layout_version and hub.feed.version == self._feed_version:
            self._update_status(layout)
            return False
        self._layout_version, self._feed_version = layout.version, hub.feed.version
        full = hub.trials_frame()
        placed = full[np.isfinite(full["x"].to_numpy(dtype=float))].reset_index(drop=True)
        frame = placed[COLUMNS].copy()
        marks = self._marks(placed)
        # A new trial changes the feed before it has a map position: redrawing then shows nothing
        # new and costs a few hundred ms of re-rendering, delaying the redraw that does.
        points_changed = force or not frame.equals(self.frame)
        marks_changed = points_changed or not _same_marks(marks, getattr(self, "_sent_marks", None))
        self._full = placed
        if points_changed:
            self.frame = frame
            self.pipe.send(self.frame)
        if marks_changed:
            self._sent_marks = marks
            self.marks.send(marks)
        self._update_status(layout, len(full), len(placed))
        return points_changed or marks_changed

    def _update_status(self, layout, total: int | None = None, placed: int | None = None) -> None:
        hub = self.hub
        if total is None:
            total = len(hub.feed.order)
            placed = len(self.frame)
        err = hub.embedding.error
        if err:
            text = f"⚠ {err}"
        elif total == 0:
            text = "No architectures yet: press **Start** (or open a run) and points appear here."
        elif placed < total:
            text = f"Placing networks: {placed} of {total} on the map (computing OTMANN distances in the background)…"
        elif layout.method == "placeholder":
            text = f"{total} networks: too few for t-SNE yet (needs 5); shown on a circle."
        else:
            text = f"{total} networks · t-SNE ({layout.method} refresh, {layout.seconds:.2f} s)"
        if text != self.status.object:
            self.status.object = text

    def _on_tap(self, event) -> None:
        idx = event.new
        if not idx:
            return
        i = idx[0]
        if 0 <= i < len(self.frame):
            on_next_tick(self.state.select, int(self.frame["trial_id"].iloc[i]))

    def __panel__(self):
        return pn.Column(pn.pane.Markdown(CAPTION, styles={"font-size": "12px"}, margin=(0, 10)), self.status, self.plot,
                         sizing_mode="stretch_width")
