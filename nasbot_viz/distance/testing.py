"""Random valid networks (8–30 layers) for property tests and benchmarks of the distance.

Series-parallel bodies: a chain of blocks, each a single layer or 2–3 parallel branches joined
by a merge layer; skip edges are added only where image sizes agree, so every network passes
`Architecture.create`'s validation without trial and error.
"""

from __future__ import annotations

import numpy as np

from nasbot_viz.arch import labels as L
from nasbot_viz.arch.architecture import Architecture, Layer

_WIDTHS = (8, 16, 32, 64, 128, 256)


def random_network(kind: str, rng: np.random.Generator, min_layers: int = 8, max_layers: int = 30) -> Architecture:
    """One random valid CNN or MLP with between min_layers and max_layers layers (inclusive)."""
    target = int(rng.integers(min_layers, max_layers + 1))
    layers: list[Layer] = [Layer("ip")]
    edges: list[tuple[int, int]] = []
    size = [1]  # inverse image size per layer (CNN), 1 for MLP
    n_fc = int(rng.integers(1, 3)) if kind == "cnn" else 0
    body_budget = target - 3 - n_fc  # ip, output, op
    acts = L.MLP_RECTIFIERS + L.MLP_SIGMOIDS

    def add(label: str, parents: list[int], stride: int | None = None) -> int:
        units = None
        if L.has_units(kind, label):
            units = int(rng.choice(_WIDTHS))
        if kind == "cnn" and L.is_conv(label) and stride is None:
            stride = 1
        s = size[parents[0]] if parents else 1
        if kind == "cnn" and (L.is_pool(label) or stride == 2):
            s *= 2
        layers.append(Layer(label, units, stride if kind == "cnn" and L.is_conv(label) else None))
        size.append(s)
        k = len(layers) - 1
        edges.extend((p, k) for p in parents)
        return k

    def body_label(first: bool, allow_resize: bool) -> tuple[str, int | None]:
        if kind == "mlp":
            return str(rng.choice(acts)), None
        if not first and allow_resize and rng.random() < 0.12:
            return str(rng.choice(L.CNN_POOL_LABELS)), None
        stride = 2 if (not first and allow_resize and rng.random() < 0.08) else 1
        return str(rng.choice(L.CNN_CONV_LABELS)), stride

    last = 0
    used = 0
    while used < body_budget:
        room = body_budget - used
        if room >= 3 and rng.random() < 0.3:
            # Parallel block: branches of 1–2 same-size layers from `last`, merged by one layer.
            n_br = int(rng.integers(2, 4))
            ends = []
            for _ in range(n_br):
                if used >= body_budget - 1:
                    break
                prev = last
                for _ in range(int(rng.integers(1, 3))):
                    if used >= body_budget - 1:
                        break
                    lab, st = body_label(last == 0, allow_resize=False)
                    prev = add(lab, [prev], st)
                    used += 1
                ends.append(prev)
            lab, st = body_label(False, allow_resize=False)
            last = add(lab, sorted(set(ends)), st)
            used += 1
        else:
            lab, st = body_label(last == 0, allow_resize=True)
            parents = [last]
            # An occasional skip edge from an earlier body layer of the same size.
            same = [i for i in range(1, last) if size[i] == size[last] and (i, last) not in edges]
            if same and rng.random() < 0.3:
                parents.append(int(rng.choice(same)))
            last = add(lab, sorted(set(parents)), st)
            used += 1
    for _ in range(n_fc):
        last = add("fc", [last])
    out_label = "softmax" if kind == "cnn" else "linear"
    out = add(out_label, [last])
    add("op", [out])
    return Architecture.create(kind, layers, edges)


def random_networks(kind: str, n: int, seed: int = 0, min_layers: int = 8, max_layers: int = 30) -> list[Architecture]:
    """n distinct random networks, reproducible from the seed."""
    rng = np.random.default_rng(seed)
    out: list[Architecture] = []
    seen: set[str] = set()
    while len(out) < n:
        a = random_network(kind, rng, min_layers, max_layers)
        if a.id not in seen:
            seen.add(a.id)
            out.append(a)
    return out
