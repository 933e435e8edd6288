"""The selected network drawn as a graph, beside its parent, and the OTMANN transport plan between two."""

from __future__ import annotations

import html

import panel as pn
import param
from panel.viewable import Viewer

from nasbot_viz.ui import graphs
from nasbot_viz.ui.hub import RunHub, in_served_session, run_in_background
from nasbot_viz.ui.state import ExplorerState

CAPTION = (
    "**Layer graph.** The selected network (right) beside its parent (left). Each box is a layer with its "
    "units, stride and *mass* (how much it weighs in OTMANN's transport problem); layers changed by the "
    "modifiers are outlined in orange."
)
PLAN_CAPTION = (
    "**Transport plan** (OTMANN, `emd_s0.61`). OTMANN measures how far apart two networks are by moving "
    "the layer mass of one onto the other as cheaply as possible: matching layers with different types "
    "or positions costs more, and mass left unmatched pays a penalty. Blue dashed lines show which "
    "layers were matched (thicker = more mass); grey dashed layers went mostly unassigned. Compares the "
    "pinned network (A) with the selection (B); without a pin, the parent with the selection."
)
EMPTY = "Select a network to draw it."


def _svg_pane() -> pn.pane.SVG:
    return pn.pane.SVG(None, encode=False, sizing_mode="stretch_width", styles={"overflow": "auto"}, max_height=620)


class GraphView(Viewer):
    state = param.ClassSelector(class_=ExplorerState)

    def __init__(self, state: ExplorerState, hub: RunHub | None = None, **params):
        super().__init__(state=state, **params)
        self.hub = hub
        self.child = _svg_pane()
        self.parent = _svg_pane()
        self.plan = _svg_pane()
        self.text = pn.pane.HTML("", sizing_mode="stretch_width")
        self.notice = pn.pane.Markdown(EMPTY, margin=(0, 10), styles={"color": "#555"})
        self.plan_notice = pn.pane.Markdown("", margin=(0, 10), styles={"color": "#555"})
        self.pin_button = pn.widgets.Button(name="Pin as A for comparison", button_type="light", width=200)
        self.pin_button.on_click(self._pin)
        self.unpin_button = pn.widgets.Button(name="Clear pin", button_type="light", width=120)
        self.unpin_button.on_click(lambda e: setattr(self.state, "pinned", None))
        self.graphs_box = pn.Row(self.parent, self.child, sizing_mode="stretch_width")
        self.plan_box = pn.Column(self.plan_notice, self.plan, sizing_mode="stretch_width")
        self.pending = None  # the Future of the render in flight (tests wait on it)
        self._token = 0
        self.stale = False
        state.param.watch(self._on_select, ["selected", "pinned"])

    def _on_select(self, _event=None) -> None:
        if in_served_session():
            self.stale = True  # the session's next poll redraws (see hub.in_served_session)
        else:
            self.refresh()

    def _pin(self, _event=None) -> None:
        self.state.pinned = self.state.selected

    def refresh(self, force: bool = False) -> None:
        hub, sel = self.hub, self.state.selected
        if hub is None or sel is None or sel not in hub.feed.trials:
            self.child.object = self.parent.object = self.plan.object = None
            self.notice.object = EMPTY
            return
        self._token += 1
        token = self._token
        pinned = self.state.pinned
        self.notice.object = f"Drawing trial {sel}…"
        self.child.loading = True

        def work():
            return self._render(hub, sel, pinned)

        def apply(result, err):
            if token != self._token:  # a newer selection superseded this one
                return
            self.child.loading = False
            if err is not None:
                self.notice.object = f"⚠ Could not draw trial {sel}: {type(err).__name__}: {err}"
                return
            # No pn.io.hold(): in a served page it swallowed some pane updates. Notices first, so
            # a reader that sees a drawing also sees the caption that goes with it.
            self.notice.object = result["notice"]
            self.plan_notice.object = result.get("plan_notice", "")
            self.text.object = result.get("text", "")
            for pane, key in ((self.child, "child"), (self.parent, "parent"), (self.plan, "plan")):
                pane.object = result.get(key)
            # Fresh panes each time: in a served page some in-place updates never reached the browser.
            self.graphs_box.objects = [pn.pane.SVG(result[k], encode=False, sizing_mode="stretch_width",
                                                   styles={"overflow": "auto"}, max_height=620)
                                       for k in ("parent", "child") if result.get(k)]
            self.plan_box.objects = [pn.pane.Markdown(result.get("plan_notice", ""), margin=(0, 10),
                                                      styles={"color": "#555"})] + (
                [pn.pane.SVG(result["plan"], encode=False, sizing_mode="stretch_width",
                             styles={"overflow": "auto"}, max_height=620)] if result.get("plan") else [])

        self.pending = run_in_background(work, apply)

    @staticmethod
    def _render(hub: RunHub, sel: int, pinned: int | None) -> dict:
        child = hub.architecture(sel)
        parent, changed = hub.changed_layers(sel)
        rec = hub.feed.trials[sel]
        ptid = rec.parents[0] if rec.parents else None
        out: dict = {}
        changed_text = f"; changed layers: {', '.join(map(str, changed))}" if changed else ""
        out["notice"] = (f"Trial {sel}" + (f", made from trial {ptid}{changed_text}" if ptid is not None else
                                           ", from the initial pool (no parent)"))
        a_tid = pinned if pinned is not None and pinned != sel else ptid
        a = hub.architecture(a_tid) if a_tid is not None else None
        if not graphs.dot_available():
            out["notice"] += "\n\n" + graphs.DOT_MISSING
            body = f"<b>trial {sel}</b><pre>{html.escape(graphs.arch_text(child, changed))}</pre>"
            if parent is not None:
                body = f"<b>parent {ptid}</b><pre>{html.escape(graphs.arch_text(parent))}</pre>" + body
            out["text"] = body
            out["plan_notice"] = graphs.DOT_MISSING
            return out
        out["child"] = graphs.arch_svg(child, changed, title=f"trial {sel}")
        out["parent"] = graphs.arch_svg(parent, (), title=f"parent: trial {ptid}") if parent is not None else None
        if a is None:
            out["plan_notice"] = "Pin a network (button above) or select one with a parent to see a transport plan."
        elif a.kind != child.kind:
            out["plan_notice"] = "These two networks are of different kinds; OTMANN compares networks of one kind."
        else:
            from nasbot_viz.distance import otmann

            res = otmann(a, child)
            plan = res.plans.get("s0.61") or next(iter(res.plans.values()))
            d = res.distances.get("emd_s0.61", float("nan"))
            out["plan"] = graphs.transport_svg(a, child, plan, title=f"A = trial {a_tid}   B = trial {sel}")
            out["plan_notice"] = (f"A = trial {a_tid}, B = trial {sel}: OTMANN distance emd_s0.61 = {d:.3f} "
                                  "(0 = same network, 1 = nothing matched).")
        return out

    def __panel__(self):
        graphs_tab = pn.Column(pn.pane.Markdown(CAPTION, styles={"font-size": "12px"}, margin=(0, 10)), self.notice,
                               self.graphs_box, self.text,
                               sizing_mode="stretch_width")
        plan_tab = pn.Column(pn.pane.Markdown(PLAN_CAPTION, styles={"font-size": "12px"}, margin=(0, 10)),
                             pn.Row(self.pin_button, self.unpin_button), self.plan_box,
                             sizing_mode="stretch_width")
        return pn.Tabs(("Layer graph", graphs_tab), ("Transport plan", plan_tab), sizing_mode="stretch_width",
                       dynamic=False)
