"""Example networks: the paper's initial pools (reference §8) and the authors' library examples.

Built here from their descriptions, so that the fixtures (which the authors' code produced) can
check this code rather than the other way round. Two quirks of the authors' code are kept on
purpose, because the published runs used them: `blocked_mlp`'s unit list (reference §11) and the
random order of activation labels in blocked MLPs (drawn here from a seeded generator).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from nasbot_viz.arch import labels as L
from nasbot_viz.arch.architecture import Architecture, Layer

Edges = list[tuple[int, int]]


def _chain_edges(n: int) -> Edges:
    return [(i, i + 1) for i in range(n - 1)]


def _cnn(labels: Sequence[str], units: Sequence[int | None], edges: Edges, name: str,
         strides: dict[int, int] | None = None) -> Architecture:
    strides = strides or {}
    layers = [
        Layer(lab, u, strides.get(i, 1) if L.is_conv(lab) else None)
        for i, (lab, u) in enumerate(zip(labels, units))
    ]
    return Architecture.create("cnn", layers, edges, name)


def _mlp(labels: Sequence[str], units: Sequence[int | None], edges: Edges, name: str) -> Architecture:
    layers = [Layer(lab, u if L.has_units("mlp", lab) else None, None) for lab, u in zip(labels, units)]
    return Architecture.create("mlp", layers, edges, name)


# ------------------------------------------------------------------------------------- CNNs
def vgg(num_conv_layers_per_block: int = 4) -> Architecture:
    """A VGG-style chain: two fixed blocks, three blocks of `num_conv_layers_per_block` convs, 3 fc."""
    labels = ["ip", "conv3", "conv3", "max-pool", "conv3", "conv3", "max-pool"]
    units: list[int | None] = [None, 64, 64, None, 128, 128, None]
    for width in (128, 256, 512):
        labels += ["conv3"] * num_conv_layers_per_block + ["max-pool"]
        units += [width] * num_conv_layers_per_block + [None]
    labels += ["fc", "fc", "fc", "softmax", "op"]
    units += [128, 256, 512, None, None]
    return _cnn(labels, units, _chain_edges(len(labels)), f"vgg({num_conv_layers_per_block})")


def _default_widths(num_blocks: int) -> list[int]:
    widths, width = [], 64
    for _ in range(num_blocks):
        widths.append(width)
        width = min(2 * width, 512)
    return widths


def _blocked_cnn(num_blocks: int, layers_per_block: int, num_fc: int, block_label: str, name: str) -> Architecture:
    labels = ["ip", "conv7", "max-pool"]
    units: list[int | None] = [None, 64, None]
    strides: dict[int, int] = {}
    widths = _default_widths(num_blocks)
    for b in range(num_blocks):
        strides[len(labels)] = 2  # each block starts by halving the image
        labels += [block_label] * layers_per_block
        units += [widths[b]] * layers_per_block
    labels.append("avg-pool")
    units.append(None)
    labels += ["fc"] * num_fc + ["softmax", "op"]
    units += [2 * widths[-1]] * num_fc + [None, None]
    return _cnn(labels, units, _chain_edges(len(labels)), name, strides)


def blocked_cnn(num_blocks: int, layers_per_block: int, num_fc: int = 1) -> Architecture:
    return _blocked_cnn(num_blocks, layers_per_block, num_fc, "conv3",
                        f"blocked_cnn({num_blocks},{layers_per_block},{num_fc})")


def resnet_cnn(num_blocks: int, layers_per_block: int, num_fc: int = 1) -> Architecture:
    return _blocked_cnn(num_blocks, layers_per_block, num_fc, "res3",
                        f"resnet_cnn({num_blocks},{layers_per_block},{num_fc})")


def _multidepth_cnn(extra_edge: tuple[int, int], strides: dict[int, int], name: str) -> Architecture:
    """Two softmax heads over conv branches of different depths (the authors' debugging nets)."""
    labels = ["ip", "op", "softmax", "fc", "softmax", "fc", "conv5", "avg-pool",
              "max-pool", "conv3", "conv3", "max-pool", "max-pool", "conv3", "conv7"]
    units = [None, None, None, 64, None, 64, 128, None, None, 64, 64, None, None, 128, 64]
    edges = [(0, 14), (14, 6), (14, 9), (14, 10), (6, 7), (7, 3), (3, 2), (2, 1), (9, 8),
             (8, 5), (5, 4), (4, 1), (10, 11), (11, 13), (13, 12), (12, 5), extra_edge]
    return _cnn(labels, units, edges, name, strides)


def multidepth_cnn_eg1() -> Architecture:
    return _multidepth_cnn((3, 4), {9: 2}, "multidepth_cnn_eg1")


def multidepth_cnn_eg2() -> Architecture:
    return _multidepth_cnn((6, 8), {9: 2, 6: 2}, "multidepth_cnn_eg2")


def small_cnns() -> list[Architecture]:
    """The authors' seven small hand-made CNNs (cnn_1 … cnn_7)."""
    return [
        _cnn(["ip", "op", "conv3", "fc", "conv3", "conv3", "conv3", "softmax", "max-pool"],
             [None, None, 32, 16, 16, 8, 8, None, None],
             [(0, 4), (3, 7), (4, 5), (4, 6), (5, 2), (6, 2), (7, 1), (2, 8), (8, 3)], "cnn_1"),
        _cnn(["ip", "conv3", "conv3", "conv3", "fc", "softmax", "op", "max-pool"],
             [None, 16, 16, 32, 16, None, None, None],
             [(0, 1), (1, 2), (2, 3), (4, 5), (5, 6), (3, 7), (7, 4)], "cnn_2"),
        _cnn(["ip", "conv3", "conv3", "conv5", "conv3", "max-pool", "fc", "softmax", "op"],
             [None, 16, 16, 16, 32, None, 32, None, None],
             [(0, 1), (1, 2), (1, 3), (1, 4), (2, 5), (3, 5), (4, 6), (5, 6), (6, 7), (7, 8)], "cnn_3", {4: 2}),
        _cnn(["ip", "conv3", "conv3", "conv5", "conv3", "avg-pool", "conv5", "fc", "softmax", "op"],
             [None, 16, 16, 16, 32, None, 32, 32, None, None],
             [(0, 1), (1, 2), (1, 3), (1, 4), (2, 5), (3, 5), (4, 6), (5, 7), (6, 7), (7, 8), (8, 9)],
             "cnn_4", {4: 2}),
        _cnn(["ip", "conv3", "conv3", "conv5", "conv5", "avg-pool", "fc", "softmax", "op", "conv3"],
             [None, 16, 16, 16, 32, None, 32, None, None, 16],
             [(0, 1), (1, 2), (1, 3), (2, 5), (3, 5), (4, 6), (5, 6), (6, 7), (7, 8), (0, 9), (9, 4)],
             "cnn_5", {4: 2}),
        _cnn(["ip", "conv3", "conv3", "conv3", "fc", "fc", "op", "max-pool", "fc", "softmax"],
             [None, 16, 16, 32, 32, 32, None, None, 32, None],
             [(0, 1), (1, 2), (2, 3), (4, 5), (5, 9), (3, 7), (7, 4), (4, 8), (8, 9), (9, 6)], "cnn_6"),
        _cnn(["ip", "conv3", "conv3", "conv3", "fc", "fc", "op", "max-pool", "fc", "softmax", "softmax"],
             [None, 16, 16, 32, 32, 32, None, None, 32, None, None],
             [(0, 1), (1, 2), (2, 3), (4, 5), (5, 9), (3, 7), (7, 4), (4, 8), (8, 9), (9, 6), (8, 10), (10, 6)],
             "cnn_7"),
    ]


# ------------------------------------------------------------------------------------- MLPs
def blocked_mlp(
    num_blocks: int,
    layers_per_block: int,
    *,
    regression: bool = True,
    rectifier_order: Sequence[str] | None = None,
    sigmoid_order: Sequence[str] | None = None,
    rng: np.random.Generator | None = None,
) -> Architecture:
    """Blocks alternate rectifier / sigmoid activations (orders shuffled as the authors do).

    Units follow the authors' code, quirk included: the per-block width list stays at the front
    of the per-layer list, so hidden layer k takes entry k of `widths + repeated widths`.
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    rects = list(rectifier_order) if rectifier_order else list(rng.permutation(["relu", "elu", "crelu", "leaky-relu", "softplus"]))
    sigs = list(sigmoid_order) if sigmoid_order else list(rng.permutation(["logistic", "tanh"]))
    widths = _default_widths(num_blocks)
    unit_list: list[int] = list(widths)
    labels = ["ip"]
    for b in range(num_blocks):
        label = rects[(b // 2) % len(rects)] if b % 2 == 0 else sigs[(b // 2) % len(sigs)]
        labels += [str(label)] * layers_per_block
        unit_list += [widths[b]] * layers_per_block
    labels += ["linear" if regression else "softmax", "op"]
    units: list[int | None] = [None] + [unit_list[k] for k in range(1, len(labels) - 2)] + [None, None]
    return _mlp(labels, units, _chain_edges(len(labels)), f"blocked_mlp({num_blocks},{layers_per_block})")


def _multidepth_mlp(extra_edges: Edges, name: str, regression: bool) -> Architecture:
    out = "linear" if regression else "softmax"
    labels = ["ip", out, "op", "tanh", "relu", "leaky-relu", "logistic", "logistic", "elu", out]
    units = [None, None, None, 64, 64, 128, 256, 64, 512, None]
    edges = [(0, 1), (0, 3), (0, 4), (3, 5), (4, 7), (5, 6), (7, 8), (3, 8), (7, 6),
             (6, 9), (8, 9), (1, 2), (9, 2)] + extra_edges
    return _mlp(labels, units, edges, name)


def multidepth_mlp_eg1(regression: bool = True) -> Architecture:
    return _multidepth_mlp([], "multidepth_mlp_eg1", regression)


def multidepth_mlp_eg2(regression: bool = True) -> Architecture:
    return _multidepth_mlp([(4, 1)], "multidepth_mlp_eg2", regression)


def small_mlps(regression: bool = True) -> list[Architecture]:
    """The authors' four small hand-made MLPs (mlp_1 … mlp_4)."""
    out = "linear" if regression else "softmax"
    return [
        _mlp(["ip", "op", "tanh", "logistic", "softplus", "relu", "elu", out],
             [None, None, 32, 64, 16, 8, 8, None],
             [(0, 4), (2, 3), (3, 7), (4, 5), (4, 6), (5, 2), (6, 2), (7, 1)], "mlp_1"),
        _mlp(["ip", "softplus", "elu", "tanh", "logistic", out, "op"],
             [None, 16, 16, 32, 64, None, None], _chain_edges(7), "mlp_2"),
        _mlp(["ip", "tanh", "logistic", "logistic", "tanh", "elu", "relu", out, "op"],
             [None, 8, 8, 8, 8, 16, 16, None, None],
             [(0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (3, 6), (4, 5), (4, 6), (5, 7), (6, 7), (7, 8)], "mlp_3"),
        _mlp(["ip", "logistic", "relu", "softplus", out, "op", "relu", "tanh"],
             [None, 8, 8, 16, None, None, 16, 8],
             [(0, 1), (0, 7), (1, 2), (2, 3), (2, 6), (7, 6), (7, 3), (3, 4), (6, 4), (4, 5)], "mlp_4"),
    ]


# ------------------------------------------------------------------------------------- pools
def library_examples(kind: str, regression: bool = True) -> list[Architecture]:
    """The authors' `generate_{cnn,mlp}_architectures()` (the fixtures' library networks)."""
    if kind == "cnn":
        return small_cnns() + [vgg(2), blocked_cnn(3, 4, 1), resnet_cnn(3, 2, 1),
                               multidepth_cnn_eg1(), multidepth_cnn_eg2()]
    if kind == "mlp":
        return small_mlps(regression) + [
            blocked_mlp(4, 3, regression=regression, rectifier_order=["leaky-relu", "relu"], sigmoid_order=["tanh", "logistic"]),
            blocked_mlp(8, 2, regression=regression, rectifier_order=["softplus", "crelu", "leaky-relu", "relu"],
                        sigmoid_order=["tanh", "logistic"]),
            multidepth_mlp_eg1(regression),
            multidepth_mlp_eg2(regression),
        ]
    raise ValueError(f"kind must be 'cnn' or 'mlp', got {kind!r}")


_MLP_POOL_SHAPES = ((3, 2), (4, 2), (5, 2), (3, 4), (6, 2), (8, 2), (6, 3), (10, 2), (4, 6), (8, 3))


def initial_pool(kind: str, regression: bool = True, seed: int = 0) -> list[Architecture]:
    """The paper's initial pool (reference §8): 12 CNNs, or 10 blocked MLPs (labels shuffled by `seed`)."""
    if kind == "cnn":
        return [vgg(n) for n in (1, 2, 3, 4)] + [blocked_cnn(3, k, 1) for k in (1, 2, 3, 4, 5)] + [
            blocked_cnn(4, 4, 1), resnet_cnn(3, 2, 1), multidepth_cnn_eg2()]
    if kind == "mlp":
        rng = np.random.default_rng(seed)
        return [blocked_mlp(b, k, regression=regression, rng=rng) for b, k in _MLP_POOL_SHAPES]
    raise ValueError(f"kind must be 'cnn' or 'mlp', got {kind!r}")
