"""`Architecture` → `torch.nn.Module`, following the shapes and conventions of `plan.py`.

2-D convolutions for image data (N, C, H, W), 1-D for sequences (N, C, L), picked by the input
shape; the input layer adapts to the data's channels and the output layers to the task's outputs.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from nasbot_viz.arch import labels as L
from nasbot_viz.arch.architecture import Architecture
from nasbot_viz.train.plan import LayerPlan, NetworkPlan, plan_network

__all__ = ["ArchitectureNet", "build_module", "count_params", "count_flops"]


def _conv_cls(dims: int):
    return (nn.Conv1d, nn.BatchNorm1d) if dims == 1 else (nn.Conv2d, nn.BatchNorm2d)


class ConvBNReLU(nn.Sequential):
    def __init__(self, dims: int, cin: int, cout: int, k: int, stride: int):
        conv, bn = _conv_cls(dims)
        super().__init__(conv(cin, cout, k, stride=stride, padding=k // 2, bias=False), bn(cout), nn.ReLU())


class ResidualBlock(nn.Module):
    """Two convs and a skip; a 1×1 projection when channels or stride change."""

    def __init__(self, dims: int, cin: int, cout: int, k: int, stride: int):
        super().__init__()
        conv, bn = _conv_cls(dims)
        self.body = nn.Sequential(
            conv(cin, cout, k, stride=stride, padding=k // 2, bias=False), bn(cout), nn.ReLU(),
            conv(cout, cout, k, stride=1, padding=k // 2, bias=False), bn(cout),
        )
        self.skip = (
            nn.Identity() if cin == cout and stride == 1
            else nn.Sequential(conv(cin, cout, 1, stride=stride, bias=False), bn(cout))
        )
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.skip(x))


class Pool(nn.Module):
    """Kernel 2, stride 2, ceil mode; a side of 1 keeps kernel 1 so the size never reaches 0."""

    def __init__(self, kind: str, spatial_in: tuple[int, ...]):
        super().__init__()
        k = tuple(min(2, s) for s in spatial_in)
        dims = len(spatial_in)
        if kind == "max-pool":
            cls = nn.MaxPool1d if dims == 1 else nn.MaxPool2d
            self.pool = cls(k, stride=k, ceil_mode=True)
        else:
            cls = nn.AvgPool1d if dims == 1 else nn.AvgPool2d
            self.pool = cls(k, stride=k, ceil_mode=True, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x)


class FullyConnected(nn.Module):
    """Pool each spatial parent to at most 4×4 (16) positions, flatten, concatenate, linear, ReLU."""

    def __init__(self, plan: LayerPlan, units: int):
        super().__init__()
        self.targets = plan.parent_pool
        self.linear = nn.Linear(plan.in_channels, units)
        self.act = nn.ReLU()

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        flat = []
        for x, target in zip(inputs, self.targets):
            if target is not None:
                if tuple(x.shape[2:]) != target:
                    pool = nn.functional.adaptive_avg_pool1d if len(target) == 1 else nn.functional.adaptive_avg_pool2d
                    x = pool(x, target)
                x = x.flatten(1)
            flat.append(x)
        return self.act(self.linear(torch.cat(flat, 1) if len(flat) > 1 else flat[0]))


class OutputLinear(nn.Module):
    """softmax / linear output: global average pool for spatial inputs, then a linear map (logits)."""

    def __init__(self, cin: int, num_outputs: int):
        super().__init__()
        self.linear = nn.Linear(cin, num_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() > 2:
            x = x.flatten(2).mean(2)
        return self.linear(x)


class CReLU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([torch.relu(x), torch.relu(-x)], 1)


_ACTIVATIONS = {
    "relu": nn.ReLU,
    "crelu": CReLU,
    "leaky-relu": nn.LeakyReLU,
    "softplus": nn.Softplus,
    "elu": nn.ELU,
    "logistic": nn.Sigmoid,
    "tanh": nn.Tanh,
}


class ArchitectureNet(nn.Module):
    """Runs the layers in (stored, topological) order, concatenating parents along channels."""

    def __init__(self, arch: Architecture, plan: NetworkPlan):
        super().__init__()
        self.kind = arch.kind
        self.parents = arch.parents
        self.labels = arch.labels
        self.plan = plan
        self.flops = plan.macs
        n = arch.num_layers
        # the last layer that reads each output, so intermediate tensors are freed early
        self.last_use = [max((c for c in arch.children[i]), default=i) for i in range(n)]
        mods: list[nn.Module] = []
        for i, (lay, lp) in enumerate(zip(arch.layers, plan.layers)):
            mods.append(self._make(lay.label, lay.units, lay.stride, lp, plan))
        self.blocks = nn.ModuleList(mods)

    def _make(self, label, units, stride, lp: LayerPlan, plan: NetworkPlan) -> nn.Module:
        if label in ("ip", "op"):
            return nn.Identity()
        if self.kind == "mlp":
            if label in L.MLP_OUTPUT_LABELS:
                return nn.Linear(lp.in_channels, plan.num_outputs)
            return nn.Sequential(nn.Linear(lp.in_channels, units), _ACTIVATIONS[label]())
        if L.is_conv(label):
            dims = len(lp.spatial)
            k = int(label[-1])
            cls = ResidualBlock if label.startswith("res") else ConvBNReLU
            return cls(dims, lp.in_channels, units, k, stride or 1)
        if L.is_pool(label):
            spatial_in = self._parent_spatial(lp)
            return Pool(label, spatial_in)
        if label == "fc":
            return FullyConnected(lp, units)
        return OutputLinear(lp.in_channels, plan.num_outputs)  # softmax

    def _parent_spatial(self, lp: LayerPlan) -> tuple[int, ...]:
        return self.plan.layers[self.parents[lp.index][0]].spatial

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "mlp":
            x = x.flatten(1)
        outs: dict[int, torch.Tensor] = {0: x}
        n = len(self.blocks)
        for i in range(1, n):
            ins = [outs[p] for p in self.parents[i]]
            label = self.labels[i]
            if label == "op":
                y = ins[0] if len(ins) == 1 else torch.stack(ins, 0).mean(0)
            elif label == "fc":
                y = self.blocks[i](ins)
            else:
                y = self.blocks[i](ins[0] if len(ins) == 1 else torch.cat(ins, 1))
            outs[i] = y
            for p in self.parents[i]:
                if self.last_use[p] == i:
                    outs.pop(p, None)
        return outs[n - 1]


def build_module(architecture: Architecture, input_shape: Sequence[int], num_outputs: int) -> ArchitectureNet:
    """Build the network for inputs of ``input_shape`` (no batch axis) and ``num_outputs`` outputs."""
    plan = plan_network(architecture, tuple(input_shape), int(num_outputs))
    return ArchitectureNet(architecture, plan)


def count_params(module: nn.Module) -> int:
    """Trainable parameters of a module."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def count_flops(module: nn.Module | Architecture, input_shape: Sequence[int] | None = None, num_outputs: int | None = None) -> int:
    """Multiply-accumulates per example of conv and linear layers (pooling and activations not counted).

    Pass a built module, or an architecture with its input shape and number of outputs."""
    if isinstance(module, Architecture):
        if input_shape is None or num_outputs is None:
            raise TypeError("count_flops(architecture, input_shape, num_outputs) needs the data shape")
        return plan_network(module, tuple(input_shape), int(num_outputs)).macs
    flops = getattr(module, "flops", None)
    if flops is None:
        raise TypeError("count_flops needs a module from build_module or an architecture with shapes")
    return int(flops)
