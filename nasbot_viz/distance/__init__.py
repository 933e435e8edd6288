"""OTMANN distance between networks (reference §3–§5): single pairs with transport plans, and
cached, incrementally grown pairwise matrices for the GP and the explorer."""

from nasbot_viz.distance._parallel import shutdown_pool, warm_up
from nasbot_viz.distance.cache import DistanceCache, otmann_matrix
from nasbot_viz.distance.config import DEFAULT_CONFIG, VARIANTS, OTMANNConfig, label_mismatch_table
from nasbot_viz.distance.core import KindMismatchError
from nasbot_viz.distance.otmann import OTMANNResult, TransportPlan, otmann

__all__ = [
    "DEFAULT_CONFIG",
    "DistanceCache",
    "KindMismatchError",
    "OTMANNConfig",
    "OTMANNResult",
    "TransportPlan",
    "VARIANTS",
    "label_mismatch_table",
    "otmann",
    "otmann_matrix",
    "shutdown_pool",
    "warm_up",
]
