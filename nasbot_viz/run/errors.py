"""Errors of the run layer (bad executor settings, a dead worker pool, nothing to resume)."""

from __future__ import annotations

from nasbot_viz.errors import NasbotVizError


class RunError(NasbotVizError, ValueError):
    """A run cannot start or go on: bad budget or executor settings, unreachable Dask scheduler,
    a worker pool that died, a run that cannot be resumed."""
