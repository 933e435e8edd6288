"""Drawing candidate modifier records for a network, one list per type (reference §7.1).

These follow the authors' `get_list_of_*_modifiers` functions, with one difference in form: the
randomness the authors leave inside their closures (which layers a branch copies) is drawn here,
so each record is complete and replayable.

Deliberate differences from the authors' code, none of which changes what a valid mutation is:
- en-masse groups that contain no layer are not offered (the authors' return the parent as is);
- a wedged layer's units are rounded in the fallback cases too (the authors' can be fractional);
- skip treats a flattened input (after fc) as inadmissible; on Python 3 the authors' comparison
  of 'x' with a number raises, which their bare except turns into "no skip candidates at all".
Skip start layers are drawn without the 0.9 decay that branch (dup_path) uses, as in the code.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from nasbot_viz.arch import labels as L
from nasbot_viz.arch.architecture import Architecture
from nasbot_viz.arch.paths import shortest_hops
from nasbot_viz.arch.modifiers.records import (
    DecEnMasse,
    DecSingle,
    DupPath,
    IncEnMasse,
    IncSingle,
    Modifier,
    RemoveLayer,
    Skip,
    SwapLabel,
    WedgeLayer,
    directly_modifiable,
    scaled_units,
)

# Swap tables (§7.1): replacement label → unnormalised probability.
CONV_SWAPS: dict[str, dict[str, float]] = {
    "conv3": {"res3": 0.25, "res5": 0.25, "conv5": 0.15, "conv7": 0.25, "max-pool": 0.05, "avg-pool": 0.05},
    "conv5": {"res3": 0.25, "res5": 0.25, "conv3": 0.2, "conv7": 0.2, "max-pool": 0.05, "avg-pool": 0.05},
    "conv7": {"res3": 0.25, "res5": 0.25, "conv3": 0.25, "conv5": 0.15, "max-pool": 0.05, "avg-pool": 0.05},
    "res3": {"conv3": 0.25, "conv5": 0.25, "res5": 0.15, "res7": 0.25, "max-pool": 0.05, "avg-pool": 0.05},
    "res5": {"conv3": 0.25, "conv5": 0.25, "res3": 0.2, "res7": 0.2, "max-pool": 0.05, "avg-pool": 0.05},
    "res7": {"conv3": 0.25, "conv5": 0.25, "res3": 0.25, "res5": 0.15, "max-pool": 0.05, "avg-pool": 0.05},
}
SWAP_STRIDE_FLIP_PROB = 0.05
WEDGE_POOL_PROB = 0.05
WEDGE_STRIDE_2_PROB = 0.05
WEDGE_CNN_LABELS = ("conv3", "conv5", "conv7", "res3", "res5", "res7")
WEDGE_MLP_LABELS = L.MLP_RECTIFIERS + L.MLP_SIGMOIDS
BRANCH_MIN_PATH = 4
BRANCH_STOP_PROB = 0.2
BRANCH_KEEP_PROB = 0.5
START_DECAY = 0.9


def _pick(rng: np.random.Generator, options: tuple | list, p: np.ndarray | None = None):
    return options[int(rng.choice(len(options), p=p))]


# ------------------------------------------------------------------------------ unit changes
def single_layer_candidates(arch: Architecture, increase: bool) -> list[Modifier]:
    cls = IncSingle if increase else DecSingle
    out: list[Modifier] = []
    for i in directly_modifiable(arch):
        lay = arch.layers[i]
        out.append(cls(layer=i, label=lay.label, old_units=lay.units, new_units=scaled_units(lay.units, increase)))
    return out


def en_masse_groups(arch: Architecture) -> list[tuple[int, int, tuple[int, ...]]]:
    """(group, num_groups, layers) for 1/2, 2/2 (≥ 4 internal layers), …/4 (≥ 8), …/8 (≥ 16)."""
    modifiable = directly_modifiable(arch)
    m = len(modifiable)
    internal = arch.num_layers - 2
    out = []
    for num_groups, needed in ((2, 4), (4, 8), (8, 16)):
        if internal < needed:
            continue
        for g in range(1, num_groups + 1):
            layers = tuple(modifiable[(g - 1) * m // num_groups : g * m // num_groups])
            if layers:  # the authors also offer empty groups, which return the parent unchanged
                out.append((g, num_groups, layers))
    return out


def en_masse_candidates(arch: Architecture, increase: bool) -> list[Modifier]:
    cls = IncEnMasse if increase else DecEnMasse
    out: list[Modifier] = []
    for g, ng, layers in en_masse_groups(arch):
        new_units = tuple(scaled_units(arch.layers[i].units, increase) for i in layers)
        out.append(cls(group=g, num_groups=ng, layers=layers, new_units=new_units))
    return out


# ------------------------------------------------------------------------------ swap
def swap_candidates(arch: Architecture, rng: np.random.Generator) -> list[Modifier]:
    out: list[Modifier] = []
    for i, lay in enumerate(arch.layers):
        label = lay.label
        if label in ("ip", "op", "fc", "softmax", "linear"):
            continue
        if label in CONV_SWAPS:
            options = tuple(CONV_SWAPS[label])
            p = np.array(list(CONV_SWAPS[label].values()))
            p = p / p.sum()
        elif label == "max-pool":
            options, p = ("avg-pool",), None
        elif label == "avg-pool":
            options, p = ("max-pool",), None
        elif label in L.MLP_RECTIFIERS:
            options, p = L.MLP_SIGMOIDS, None
        elif label in L.MLP_SIGMOIDS:
            options, p = L.MLP_RECTIFIERS, None
        else:  # pragma: no cover - every label of the vocabularies is handled above
            continue
        new_label = _pick(rng, options, p)
        if arch.kind != "cnn" or L.is_pool(new_label):
            stride = None
        elif L.is_pool(label):  # pooling → conv: the new conv keeps the down-sampling
            stride = 2
        elif rng.random() < SWAP_STRIDE_FLIP_PROB:
            stride = 1 if lay.stride == 2 else 2
        else:
            stride = lay.stride
        out.append(SwapLabel(layer=i, old_label=label, new_label=new_label, stride=stride))
    return out


# ------------------------------------------------------------------------------ wedge
def _wedge_units_unrounded(arch: Architecture, u: int, v: int) -> float:
    """`_determine_num_units_for_wedge_layer`: mean units of the edge's ends, with fallbacks."""
    known = [x for x in (arch.layers[u].units, arch.layers[v].units) if x is not None]
    if known:
        return sum(known) / len(known)
    parents = arch.parents[u]
    if not parents:  # u is ip: the mean of ip's children, else 16
        kids = [arch.layers[c].units for c in arch.children[u] if arch.layers[c].units is not None]
        kids = kids or [16]
        return sum(kids) / len(kids)
    par_units = [arch.layers[p].units for p in parents if arch.layers[p].units is not None]
    if par_units:
        return sum(par_units) / len(par_units)
    rec = [_wedge_units_unrounded(arch, p, u) for p in parents]
    return sum(rec) / len(rec)


def wedge_units(arch: Architecture, u: int, v: int) -> int:
    """Units of a layer wedged on u → v, rounded (the authors round only the first case)."""
    return max(1, round(_wedge_units_unrounded(arch, u, v)))


def wedge_candidates(arch: Architecture, rng: np.random.Generator) -> list[Modifier]:
    cnn = arch.kind == "cnn"
    out: list[Modifier] = []
    for u, v in arch.edges:
        if v == arch.op:
            continue
        if cnn and arch.layers[u].label == "fc":
            out.append(WedgeLayer(edge=(u, v), label="fc", units=arch.layers[u].units, stride=None))
            continue
        pool_prob = WEDGE_POOL_PROB if cnn and u != arch.ip else 0.0
        if rng.random() < pool_prob:
            label = _pick(rng, ("avg-pool", "max-pool"))
        else:
            label = _pick(rng, WEDGE_CNN_LABELS if cnn else WEDGE_MLP_LABELS)
        units = None if (L.is_pool(label) or label in L.OUTPUT_LABELS) else wedge_units(arch, u, v)
        if cnn and L.is_conv(label):
            stride = 2 if rng.random() < WEDGE_STRIDE_2_PROB else 1
        else:
            stride = None
        out.append(WedgeLayer(edge=(u, v), label=label, units=units, stride=stride))
    return out


# ------------------------------------------------------------------------------ remove
def pre_image_sizes(arch: Architecture) -> list[int | None]:
    """Inverse image size entering each layer (None once flattened by fc): the authors' pre sizes."""
    post = arch.inverse_image_sizes
    pre: list[int | None] = [1] * arch.num_layers
    for i in range(1, arch.num_layers):
        pre[i] = post[arch.parents[i][0]]
    return pre


def remove_candidates(arch: Architecture, rng: np.random.Generator) -> list[Modifier]:
    if arch.num_processing_layers == 0:
        return []
    cnn = arch.kind == "cnn"
    post = arch.inverse_image_sizes
    pre = pre_image_sizes(arch) if cnn else None
    out: list[Modifier] = []
    for i, lay in enumerate(arch.layers):
        if lay.label in ("ip", "op", "softmax", "linear"):
            continue
        parents, children = list(arch.parents[i]), list(arch.children[i])
        if lay.label == "fc" and any(arch.layers[p].label != "fc" for p in parents):
            continue
        stride_2: tuple[int, ...] = ()
        if cnn and pre[i] != post[i]:
            if all(arch.layers[c].stride == 1 for c in children):
                stride_2 = tuple(children)
            elif all(arch.layers[p].stride == 1 for p in parents):
                stride_2 = tuple(parents)
        must_children = [c for c in children if len(arch.parents[c]) == 1]
        must_parents = [p for p in parents if len(arch.children[p]) == 1]
        rng.shuffle(must_children)
        rng.shuffle(must_parents)
        new_edges: list[tuple[int, int]] = []
        for _ in range(min(len(must_children), len(must_parents))):
            new_edges.append((must_parents.pop(), must_children.pop()))
        if must_children:
            cand = [parents[int(k)] for k in rng.choice(len(parents), len(must_children))]
            while must_children:
                new_edges.append((cand.pop(), must_children.pop()))
        if must_parents:
            cand = [children[int(k)] for k in rng.choice(len(children), len(must_parents))]
            while must_parents:
                new_edges.append((must_parents.pop(), cand.pop()))
        out.append(RemoveLayer(layer=i, label=lay.label, new_edges=tuple(new_edges), stride_2=stride_2))
    return out


# ------------------------------------------------------------------------------ branch / skip
def start_layer_weights(arch: Architecture) -> np.ndarray:
    """∝ 1/sqrt(1 + shortest hops from ip); 0 for op, softmax, fc and linear."""
    d_ip, _ = shortest_hops(arch)
    w = 1.0 / np.sqrt(1.0 + d_ip.astype(float))
    for i, lay in enumerate(arch.layers):
        if lay.label in ("op", "softmax", "fc", "linear"):
            w[i] = 0.0
    return w


def _random_path(arch: Architecture, start: int, rng: np.random.Generator) -> list[int]:
    path = [start]
    while True:
        kids = arch.children[path[-1]]
        nxt = kids[int(rng.integers(len(kids)))]
        path.append(nxt)
        if nxt == arch.op:
            break
        if len(path) >= BRANCH_MIN_PATH and rng.random() < BRANCH_STOP_PROB:
            break
    return path


def _copied_layers(arch: Architecture, path: list[int], rng: np.random.Generator) -> list[int]:
    """Which inner layers of the path the branch copies (`create_duplicate_branch`)."""
    kept: list[int] = []
    fc_seen = False
    for idx in path[1:-1]:
        lay = arch.layers[idx]
        if idx == path[1] and path[0] == arch.ip:
            kept.append(idx)
        elif idx == path[-2] and not kept:
            kept.append(idx)
        elif L.is_pool(lay.label) or lay.label in L.OUTPUT_LABELS or lay.stride == 2:
            kept.append(idx)
        elif lay.label == "fc" and not fc_seen:
            kept.append(idx)
            fc_seen = True
        elif rng.random() < BRANCH_KEEP_PROB:
            kept.append(idx)
    return kept


def dup_path_candidates(arch: Architecture, rng: np.random.Generator) -> list[Modifier]:
    if arch.num_processing_layers == 0:
        return []
    w = start_layer_weights(arch)
    if w.sum() <= 0:
        return []
    out: list[Modifier] = []
    for _ in range(2 * arch.num_layers):
        p = w / w.sum()
        start = int(rng.choice(arch.num_layers, p=p))
        path = _random_path(arch, start, rng)
        w[start] *= START_DECAY
        copied = _copied_layers(arch, path, rng)
        if copied:  # always: a path has ≥ 3 layers here and its penultimate one is kept
            out.append(DupPath(path=tuple(path), copied=tuple(copied)))
    return out


def skip_end_weights(arch: Architecture, start: int, d_ip: np.ndarray, d_op: np.ndarray,
                     pre: list[int | None] | None) -> np.ndarray | None:
    """Uniform over admissible end layers (`_get_end_layer_probs_for_skipping`), None if there are none."""
    post = arch.inverse_image_sizes
    w = np.zeros(arch.num_layers)
    for j, lay in enumerate(arch.layers):
        if d_ip[j] - 1 <= d_ip[start] or d_op[j] + 1 >= d_op[start] or lay.label in ("ip", "op", "softmax"):
            continue
        if pre is not None:
            # Image entering j must be no larger than the image leaving start. Flattened inputs
            # (None, the authors' 'x') only occur for fc/softmax after fc, which the original
            # Python 2 code also excludes (there via the fc rule below).
            if pre[j] is None or post[start] > pre[j]:
                continue
        if lay.label == "fc":
            parent_labels = [arch.layers[p].label for p in arch.parents[j]]
            if not all(L.is_conv(x) or L.is_pool(x) for x in parent_labels):
                continue
        w[j] = 1.0
    if w.sum() == 0:
        return None
    return w / w.sum()


def skip_candidates(arch: Architecture, rng: np.random.Generator) -> list[Modifier]:
    w = start_layer_weights(arch)
    w[arch.ip] = 0.0
    if w.sum() <= 0:
        return []
    d_ip, d_op = shortest_hops(arch)
    cnn = arch.kind == "cnn"
    pre = pre_image_sizes(arch) if cnn else None
    post = arch.inverse_image_sizes
    p = w / w.sum()
    out: list[Modifier] = []
    for _ in range(2 * arch.num_layers):
        start = int(rng.choice(arch.num_layers, p=p))
        q = skip_end_weights(arch, start, d_ip, d_op, pre)
        if q is None:
            continue
        end = int(rng.choice(arch.num_layers, p=q))
        num_pools = 0
        if cnn and post[start] != pre[end]:
            num_pools = int(math.log2(pre[end] / post[start]))
        out.append(Skip(start=start, end=end, num_pools=num_pools))
        if len(out) >= arch.num_layers:
            break
    return out


CANDIDATE_BUILDERS: dict[str, Callable[[Architecture, np.random.Generator], list[Modifier]]] = {
    "inc_single": lambda a, rng: single_layer_candidates(a, True),
    "dec_single": lambda a, rng: single_layer_candidates(a, False),
    "inc_en_masse": lambda a, rng: en_masse_candidates(a, True),
    "dec_en_masse": lambda a, rng: en_masse_candidates(a, False),
    "swap_label": swap_candidates,
    "wedge_layer": wedge_candidates,
    "remove_layer": remove_candidates,
    "dup_path": dup_path_candidates,
    "skip": skip_candidates,
}
