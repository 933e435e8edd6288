"""Layer masses (reference §2): how much each layer weighs in the transport problem and the constraints."""

from __future__ import annotations

import numpy as np

from nasbot_viz.arch import labels as L
from nasbot_viz.arch.architecture import Architecture

FC_MASS_COEFF = 0.1
NON_PROCESSING_FRACTION = 0.1
NON_PROCESSING_MIN = 100.0


def in_channels(arch: Architecture) -> list[float | None]:
    """In-channels per layer: the sum of the parents' out-channels (ip counts as 1 out-channel)."""
    out: list[float | None] = [None] * arch.num_layers
    cin: list[float | None] = [None] * arch.num_layers
    for i, lay in enumerate(arch.layers):
        if lay.label == "ip":
            out[i] = 1.0
            continue
        parents = arch.parents[i]
        cin[i] = float(sum(out[p] or 0.0 for p in parents)) if parents else None
        if arch.kind == "cnn" and L.is_pool(lay.label):
            out[i] = cin[i]
        elif lay.label in L.NON_PROCESSING:
            out[i] = None
        else:
            out[i] = float(lay.units)
    return cin


def layer_masses(arch: Architecture) -> np.ndarray:
    """Masses in layer order; cached on the (immutable) architecture."""
    cached = arch._cache.get("masses")
    if cached is not None:
        return cached
    cin = in_channels(arch)
    masses = np.zeros(arch.num_layers)
    outputs = [i for i, x in enumerate(arch.layers) if x.label in L.OUTPUT_LABELS]
    for i, lay in enumerate(arch.layers):
        if not L.is_processing(lay.label):
            continue
        if arch.kind == "cnn" and L.is_pool(lay.label):
            masses[i] = cin[i]
        elif lay.label == "fc":
            masses[i] = FC_MASS_COEFF * cin[i] * lay.units
        else:
            masses[i] = cin[i] * lay.units
    np_mass = max(NON_PROCESSING_FRACTION * masses.sum(), NON_PROCESSING_MIN)
    masses[arch.ip] = np_mass
    masses[arch.op] = np_mass
    for i in outputs:
        masses[i] = np_mass / len(outputs)
    masses.setflags(write=False)
    arch._cache["masses"] = masses
    return masses
