"""Path lengths from each layer to ip and to op, per structural group and path type (reference §4).

For group g an edge u→v weighs 1 when u belongs to g. Forward lengths to op combine children,
backward lengths to ip combine parents; the layer's own membership counts, the far end does not.
`comb` is min (shortest), max (longest) or the mean (expected length of a uniform random walk).
"""

from __future__ import annotations

import numpy as np

from nasbot_viz.arch import labels as L
from nasbot_viz.arch.architecture import Architecture


def path_length_categories(kind: str) -> list[str]:
    """Category names in the reference order: group-major, then shortest/longest/rw."""
    return [f"{g}-{t}" for g in L.STRUCTURAL_GROUPS[kind] for t in L.PATH_TYPES]


def _membership(arch: Architecture) -> np.ndarray:
    groups = L.STRUCTURAL_GROUPS[arch.kind]
    member = np.zeros((len(groups), arch.num_layers))
    for i, lay in enumerate(arch.layers):
        g = L.layer_group(arch.kind, lay.label)
        member[0, i] = 1.0
        if g is not None:
            member[groups.index(g), i] = 1.0
    return member


def path_lengths(arch: Architecture) -> tuple[np.ndarray, np.ndarray]:
    """(backward-to-ip, forward-to-op), each of shape (num_layers, num_categories). Cached per object."""
    cached = arch._cache.get("path_lengths")
    if cached is not None:
        return cached
    member = _membership(arch)
    n = arch.num_layers
    n_groups = member.shape[0]
    combs = (np.min, np.max, np.mean)
    bkwd = np.zeros((n, n_groups, 3))
    fwd = np.zeros((n, n_groups, 3))
    # Layers are stored topologically: parents come before children.
    for v in range(1, n):
        ps = list(arch.parents[v])
        for t, comb in enumerate(combs):
            bkwd[v, :, t] = comb(bkwd[ps, :, t], axis=0) + member[:, v]
    for u in range(n - 2, -1, -1):
        cs = list(arch.children[u])
        for t, comb in enumerate(combs):
            fwd[u, :, t] = comb(fwd[cs, :, t], axis=0) + member[:, u]
    result = (bkwd.reshape(n, -1), fwd.reshape(n, -1))
    for a in result:
        a.setflags(write=False)
    arch._cache["path_lengths"] = result
    return result


def shortest_hops(arch: Architecture) -> tuple[np.ndarray, np.ndarray]:
    """Unweighted shortest distances (in edges) from ip and to op, used by the modifiers."""
    b, f = path_lengths(arch)
    # 'all-shortest' counts each layer's own membership: from ip it counts the layer itself, not ip.
    return b[:, 0].astype(int), f[:, 0].astype(int)
