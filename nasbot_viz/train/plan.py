"""Shape inference for an architecture on given data, in pure Python (no torch).

The builder turns this plan into modules; the synthetic task and the parameter budget use it to
count parameters and multiply-accumulates before anything is allocated. Conventions (reference §2):
a layer with several parents takes their outputs concatenated along channels, so its in-channels
are the sum of its parents' out-channels; pooling keeps channels.

Layer conventions (what each label becomes):
- conv3/5/7: conv (kernel k, stride 1|2, "same" padding k//2, no bias) → batch-norm → ReLU.
- res3/5/7: conv(k, stride) → BN → ReLU → conv(k, 1) → BN, plus a skip (identity, or a 1×1 conv
  with the stride and BN when channels or stride differ), then ReLU.
- max-pool/avg-pool: kernel 2, stride 2, ceil mode; a spatial side of 1 stays 1 (kernel clamps),
  so deep pooling chains on 8×8 digits never reach size 0. Output side = ceil(side / 2), the same
  rule as a stride-2 conv, so parents that the validator says agree really do agree.
- fc: each spatial parent is average-pooled to at most 4×4 positions (16 for sequences), flattened,
  the parents' features concatenated, then linear → ReLU.
- softmax (CNN) / softmax, linear (MLP): spatial parents are globally average-pooled, then a linear
  map to the task's outputs (logits, or regression targets). ``op`` averages its parents' outputs.
- MLP activations: linear → activation; crelu is concat(relu(x), relu(-x)) and so gives 2×units.
- The task, not the output label, decides the loss: an MLP ending in ``linear`` trains with
  cross-entropy on a classification task, one ending in ``softmax`` with MSE on a regression.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nasbot_viz.arch import labels as L
from nasbot_viz.arch.architecture import Architecture
from nasbot_viz.errors import InvalidArchitectureError

FC_MAX_POSITIONS_2D = (4, 4)
FC_MAX_POSITIONS_1D = 16


@dataclass(frozen=True)
class LayerPlan:
    """Everything the builder needs for one layer, plus its cost."""

    index: int
    label: str
    in_channels: int  # summed over parents (features for flat inputs)
    out_channels: int  # channels (spatial output) or features (flat output)
    spatial: tuple[int, ...] | None  # output spatial size; None when the output is flat
    params: int
    macs: int  # multiply-accumulates per example
    # fc only: per parent, the pooled spatial size that is flattened (None for flat parents)
    parent_pool: tuple[tuple[int, ...] | None, ...] = ()


@dataclass(frozen=True)
class NetworkPlan:
    kind: str
    input_shape: tuple[int, ...]
    num_outputs: int
    layers: tuple[LayerPlan, ...]

    @property
    def num_params(self) -> int:
        return sum(p.params for p in self.layers)

    @property
    def macs(self) -> int:
        return sum(p.macs for p in self.layers)


def _ceil_half(side: int) -> int:
    return (side + 1) // 2


def _conv_cost(k: int, dims: int, cin: int, cout: int, out_spatial: tuple[int, ...]) -> tuple[int, int]:
    weights = k**dims * cin * cout
    return weights + 2 * cout, weights * math.prod(out_spatial)  # + batch-norm scale and shift


def _fc_pool_target(spatial: tuple[int, ...]) -> tuple[int, ...]:
    if len(spatial) == 1:
        return (min(spatial[0], FC_MAX_POSITIONS_1D),)
    return tuple(min(s, m) for s, m in zip(spatial, FC_MAX_POSITIONS_2D))


def plan_network(arch: Architecture, input_shape: tuple[int, ...], num_outputs: int) -> NetworkPlan:
    """Infer every layer's shapes and costs. ``input_shape`` excludes the batch: (C, L) or (C, H, W)
    for a CNN, anything for an MLP (it is flattened)."""
    input_shape = tuple(int(s) for s in input_shape)
    if num_outputs < 1:
        raise ValueError("num_outputs must be at least 1")
    if arch.kind == "cnn" and len(input_shape) not in (2, 3):
        raise InvalidArchitectureError(
            f"a CNN needs sequence (C, L) or image (C, H, W) inputs, got shape {input_shape}"
        )
    plans: list[LayerPlan] = []
    for i, lay in enumerate(arch.layers):
        parents = arch.parents[i]
        pp = [plans[p] for p in parents]
        label = lay.label
        if label == "ip":
            if arch.kind == "cnn":
                plans.append(LayerPlan(i, label, input_shape[0], input_shape[0], input_shape[1:], 0, 0))
            else:
                f = math.prod(input_shape)
                plans.append(LayerPlan(i, label, f, f, None, 0, 0))
            continue
        cin = sum(p.out_channels for p in pp)
        if label == "op":
            plans.append(LayerPlan(i, label, num_outputs, num_outputs, None, 0, 0))
            continue
        if arch.kind == "mlp":
            if label in L.MLP_OUTPUT_LABELS:
                plans.append(LayerPlan(i, label, cin, num_outputs, None, cin * num_outputs + num_outputs, cin * num_outputs))
            else:
                width = 2 * lay.units if label == "crelu" else lay.units
                plans.append(LayerPlan(i, label, cin, width, None, cin * lay.units + lay.units, cin * lay.units))
            continue
        # CNN
        if L.is_conv(label) or L.is_pool(label):
            sizes = {p.spatial for p in pp}
            if None in sizes or len(sizes) != 1:
                raise InvalidArchitectureError(
                    f"layer {i} ({label}) joins parents whose outputs have different shapes {sorted(map(str, sizes))}"
                )
            (spatial,) = sizes
            dims = len(spatial)
            if L.is_pool(label):
                out_sp = tuple(_ceil_half(s) for s in spatial)
                plans.append(LayerPlan(i, label, cin, cin, out_sp, 0, 0))
                continue
            k = int(label[-1])
            stride = lay.stride or 1
            out_sp = tuple(_ceil_half(s) for s in spatial) if stride == 2 else spatial
            params, macs = _conv_cost(k, dims, cin, lay.units, out_sp)
            if label.startswith("res"):
                p2, m2 = _conv_cost(k, dims, lay.units, lay.units, out_sp)
                params, macs = params + p2, macs + m2
                if cin != lay.units or stride != 1:
                    p3, m3 = _conv_cost(1, dims, cin, lay.units, out_sp)
                    params, macs = params + p3, macs + m3
            plans.append(LayerPlan(i, label, cin, lay.units, out_sp, params, macs))
        elif label == "fc":
            pools: list[tuple[int, ...] | None] = []
            features = 0
            for p in pp:
                if p.spatial is None:
                    pools.append(None)
                    features += p.out_channels
                else:
                    target = _fc_pool_target(p.spatial)
                    pools.append(target)
                    features += p.out_channels * math.prod(target)
            plans.append(
                LayerPlan(i, label, features, lay.units, None, features * lay.units + lay.units,
                          features * lay.units, tuple(pools))
            )
        elif label == "softmax":
            plans.append(LayerPlan(i, label, cin, num_outputs, None, cin * num_outputs + num_outputs, cin * num_outputs))
        else:  # pragma: no cover - validation rejects unknown labels
            raise InvalidArchitectureError(f"layer {i}: unknown CNN label {label!r}")
    return NetworkPlan(arch.kind, input_shape, num_outputs, tuple(plans))
