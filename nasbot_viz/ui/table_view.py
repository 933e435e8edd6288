"""Every trial as a table row; clicking a row selects that network everywhere."""

from __future__ import annotations

import pandas as pd
import panel as pn
import param
from bokeh.models import NumberFormatter
from panel.viewable import Viewer

from nasbot_viz.ui.hub import RunHub
from nasbot_viz.ui.state import ExplorerState

COLUMNS = ["trial_id", "state", "value", "parent", "modifiers", "layers", "reason"]


class TrialsTable(Viewer):
    state = param.ClassSelector(class_=ExplorerState)

    def __init__(self, state: ExplorerState, hub: RunHub | None = None, **params):
        super().__init__(state=state, **params)
        self.hub = hub
        # Bokeh's DataTable (pn.widgets.DataFrame): Tabulator froze Chromium here when it shared a page
        # with the HoloViews plots and its data was replaced live.
        self.table = pn.widgets.DataFrame(
            pd.DataFrame(columns=COLUMNS), show_index=False, disabled=True, sizing_mode="stretch_width", height=360,
            autosize_mode="force_fit", selection=[],  # fit_columns: BokehJS "row is not defined"
            widths={"trial_id": 50, "state": 70, "value": 80, "parent": 50, "layers": 50, "modifiers": 380, "reason": 200},
            titles={"trial_id": "trial", "value": "objective", "reason": "failure reason"},
            formatters={"value": NumberFormatter(format="0.0000", nan_format="–")},
        )
        self.table.param.watch(self._on_select, "selection")
        self._version = -1

    def refresh(self, force: bool = False) -> bool:
        hub = self.hub
        if hub is None or (hub.feed.version == self._version and not force):
            return False
        self._version = hub.feed.version
        frame = hub.trials_frame()[COLUMNS].iloc[::-1].reset_index(drop=True)  # newest first
        self.table.value = frame
        return True

    def _on_select(self, event) -> None:
        if event.new:
            i = event.new[0]
            df = self.table.value
            if 0 <= i < len(df):
                self.state.select(int(df["trial_id"].iloc[i]))

    def __panel__(self):
        cap = pn.pane.Markdown("**Trials.** Every proposal in order; failed ones show their reason. Click a row to "
                               "select it.", styles={"font-size": "12px"}, margin=(0, 10))
        return pn.Column(cap, self.table, sizing_mode="stretch_width")
