"""nasbot-viz: NASBOT (Kandasamy et al., NeurIPS 2018) — neural architecture search with
Bayesian optimisation and optimal transport — and an explorer to watch it think."""

from __future__ import annotations

__version__ = "0.1.0"
