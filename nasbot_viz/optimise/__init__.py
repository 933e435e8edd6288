"""Acquisition optimisation over architectures: NASBOT's evolutionary optimiser (reference §8)."""

from nasbot_viz.optimise.evolutionary import (
    Candidate,
    OptimiserResult,
    acquisition_budget,
    maximise_acquisition,
    mutations_per_epoch,
)

__all__ = ["Candidate", "OptimiserResult", "acquisition_budget", "maximise_acquisition", "mutations_per_epoch"]
