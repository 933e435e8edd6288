"""The family tree: initial pool at the top, each proposal under the parent it was mutated from."""

from __future__ import annotations

import holoviews as hv
import pandas as pd
import panel as pn
import param
from panel.viewable import Viewer

from nasbot_viz.analysis.lineage import lineage_edges, lineage_layout, path_to_root
from nasbot_viz.ui.hub import RunHub, on_next_tick
from nasbot_viz.ui.state import ExplorerState

CAPTION = (
    "**Lineage.** The top row is the initial pool; every other network was made from the one above it "
    "by the modifiers on the edge (wider, deeper, skip, …; hover a node). The path from the pool to "
    "the selected network is drawn thick, with its modifiers written on the edges. Click a node to select it."
)

NODE_COLS = ["x", "y", "trial_id", "value", "state", "modifiers"]
_NODE_DTYPES = {"x": float, "y": float, "trial_id": int, "value": float, "state": object, "modifiers": object}


def _typed(rows: list, columns: list[str], dtypes: dict) -> pd.DataFrame:
    """A frame with fixed column types even when empty: HoloViews picks a colour mapper only for a
    numeric column, and keeps the first render's choice (an empty object column meant raw colours)."""
    frame = pd.DataFrame(rows, columns=columns)
    return frame.astype({c: dtypes.get(c, float) for c in columns})


class LineageView(Viewer):
    state = param.ClassSelector(class_=ExplorerState)

    def __init__(self, state: ExplorerState, hub: RunHub | None = None, **params):
        super().__init__(state=state, **params)
        self.hub = hub
        self.nodes_frame = _typed([], NODE_COLS, _NODE_DTYPES)
        self._layout: dict = {}
        self.node_pipe = hv.streams.Pipe(data=self.nodes_frame)
        self.edge_pipe = hv.streams.Pipe(data=_typed([], ["x0", "y0", "x1", "y1"], {}))
        self.path_pipe = hv.streams.Pipe(data=self._path_data([]))
        self.nodes = hv.DynamicMap(self._nodes, streams=[self.node_pipe])
        self.selection = hv.streams.Selection1D(source=self.nodes)
        self.selection.param.watch(self._on_tap, "index")
        edges = hv.DynamicMap(lambda data: hv.Segments(data, kdims=["x0", "y0", "x1", "y1"]).opts(
            color="#bbbbbb", line_width=1), streams=[self.edge_pipe])
        path = hv.DynamicMap(self._path, streams=[self.path_pipe])
        self.plot = pn.pane.HoloViews(edges * path * self.nodes, sizing_mode="stretch_width", height=400)
        self.empty = pn.pane.Markdown("", margin=(0, 10), styles={"color": "#555"})
        self._version = -1
        state.param.watch(lambda e: self._send_path(), "selected")

    def _nodes(self, data: pd.DataFrame) -> hv.Points:
        return hv.Points(data, kdims=["x", "y"], vdims=["trial_id", "value", "state", "modifiers"]).opts(
            color="value", cmap="viridis_r", clipping_colors={"NaN": "#c8c8c8"}, size=9, line_color="#333333",
            marker=hv.dim("state").categorize({"failed": "x", "interrupted": "x", "pending": "triangle",
                                              "running": "triangle"}, default="circle"),
            tools=["tap", "hover"], active_tools=["wheel_zoom", "tap"], nonselection_alpha=0.85, xaxis=None,
            yaxis=None, responsive=True, height=390, framewise=True, toolbar="above",
            hover_tooltips=[("trial", "@trial_id"), ("value", "@value{0.0000}"), ("made by", "@modifiers")],
        )

    def _path_data(self, path: list[int]) -> dict:
        lay = self._layout
        segs, labels = [], []
        for a, b in zip(path[:-1], path[1:]):
            na, nb = lay[a], lay[b]
            segs.append((na.x, na.y, nb.x, nb.y))
            labels.append(((na.x + nb.x) / 2, (na.y + nb.y) / 2, nb.modifiers[:40]))
        return {"segs": _typed(segs, ["x0", "y0", "x1", "y1"], {}),
                "labels": _typed(labels, ["x", "y", "text"], {"text": object})}

    def _path(self, data: dict) -> hv.Overlay:
        return hv.Segments(data["segs"], kdims=["x0", "y0", "x1", "y1"]).opts(color="#e6550d", line_width=4) * hv.Labels(
            data["labels"], kdims=["x", "y"], vdims=["text"]).opts(text_font_size="9pt", text_color="#a63603",
                                                                  text_align="left", xoffset=0.15)

    def _send_path(self) -> None:
        self.path_pipe.send(self._path_data(path_to_root(self._layout, self.state.selected)))

    def refresh(self, force: bool = False) -> bool:
        hub = self.hub
        if hub is None or (hub.feed.version == self._version and not force):
            return False
        self._version = hub.feed.version
        trials = [hub.feed.trials[t] for t in list(hub.feed.order)]
        self._layout = lineage_layout(trials, hub.modifier_texts(trials))
        rows = []
        for t in trials:
            n = self._layout[t.trial_id]
            rows.append((n.x, n.y, t.trial_id, float("nan") if t.value is None else float(t.value), str(t.state),
                         n.modifiers or f"initial pool ({t.origin})"))
        self.nodes_frame = _typed(rows, NODE_COLS, _NODE_DTYPES)
        edges = [(self._layout[p].x, self._layout[p].y, self._layout[c].x, self._layout[c].y)
                 for p, c, _ in lineage_edges(self._layout)]
        self.edge_pipe.send(_typed(edges, ["x0", "y0", "x1", "y1"], {}))
        self.node_pipe.send(self.nodes_frame)
        self._send_path()
        self.empty.object = "" if rows else "No proposals yet: the tree grows here as the search runs."
        return True

    def _on_tap(self, event) -> None:
        if event.new:
            i = event.new[0]
            if 0 <= i < len(self.nodes_frame):
                on_next_tick(self.state.select, int(self.nodes_frame["trial_id"].iloc[i]))

    def __panel__(self):
        return pn.Column(pn.pane.Markdown(CAPTION, styles={"font-size": "12px"}, margin=(0, 10)), self.empty, self.plot,
                         sizing_mode="stretch_width")
