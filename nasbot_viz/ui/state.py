"""The explorer's UI state: one `ExplorerState` per browser session (or notebook).

Every view reads the selection from here and writes it back here, so a click on a point, a lineage
node or a table row selects that architecture everywhere.
"""

from __future__ import annotations

import param


class ExplorerState(param.Parameterized):
    run_id = param.String(default=None, allow_None=True, doc="The run being shown.")
    store_path = param.String(default="", doc="Where the run store lives (shown, never edited by visitors).")
    selected = param.Integer(default=None, allow_None=True, doc="The selected trial id; drives every view.")
    pinned = param.Integer(default=None, allow_None=True,
                           doc="A trial pinned for comparison: the transport plan is drawn from it to the selection.")
    follow_latest = param.Boolean(default=False, doc="Select each new proposal as it arrives.")
    live = param.Boolean(default=True, doc="Poll the store for new events.")
    read_only = param.Boolean(default=False, doc="Viewing a run this page does not control.")
    run_status = param.String(default="no run", doc="The run's status as the store reports it.")
    message = param.String(default="", doc="The latest notice for the user (errors included).")
    ticks = param.Integer(default=0, doc="How many store polls this session has done (shows liveness).")

    def select(self, trial_id: int | None) -> None:
        """Select a trial (None clears); ignores no-op changes so views do not re-render."""
        if trial_id != self.selected:
            self.selected = None if trial_id is None else int(trial_id)
