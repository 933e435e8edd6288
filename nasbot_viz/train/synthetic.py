"""A cheap, deterministic objective of an architecture's structure (no torch, no data).

It behaves like a validation error in [0, 1] with structure a search can exploit: each term is a
bowl around a known optimum in one structural feature (depth, widths, label mix, downsampling,
skip connections, fc width) plus a size penalty. The best value, 0.05, is reached by e.g. a CNN of
9 conv layers on its longest path, mean width 64, half of them residual, mostly 3×3 kernels, 3
downsamplings, several skip connections and an fc of 128 units. Epochs act as a fidelity: fewer
epochs give a higher (worse) value along a fixed learning curve. ``noise`` adds a deterministic
pseudo-random perturbation keyed by (architecture, seed).
"""

from __future__ import annotations

import hashlib
import math

from nasbot_viz.arch import labels as L
from nasbot_viz.arch.architecture import Architecture
from nasbot_viz.records import EpochPoint, Result
from nasbot_viz.train.plan import plan_network

BEST = 0.05
START = 0.9  # value at epoch 0 of the learning curve
TAU = 2.5  # learning-curve time constant in epochs
NOMINAL_SHAPES = {"cnn": ((1, 8, 8), 10), "mlp": ((10,), 1)}

# optima of the structural features
CNN_OPT = {"depth": 9, "log2_width": 6.0, "res_frac": 0.5, "k3_frac": 0.6, "downsamples": 3, "log2_fc": 7.0}
MLP_OPT = {"depth": 5, "log2_width": 7.0, "rect_frac": 0.7}


def _bowl(x: float, opt: float, scale: float, weight: float) -> float:
    return weight * min(1.0, ((x - opt) / scale) ** 2)


def _longest(arch: Architecture, count) -> int:
    best = [0] * arch.num_layers
    for i in range(1, arch.num_layers):
        best[i] = max(best[p] for p in arch.parents[i]) + (1 if count(i) else 0)
    return best[-1]


def structure_features(arch: Architecture) -> dict[str, float]:
    """The features the objective is a function of (also handy to explain the landscape)."""
    labels = arch.labels
    extra_edges = len(arch.edges) - (arch.num_layers - 1)
    feats: dict[str, float] = {"skips": float(max(0, extra_edges))}
    if arch.kind == "cnn":
        convs = [i for i, x in enumerate(labels) if L.is_conv(x)]
        feats["depth"] = _longest(arch, lambda i: L.is_conv(labels[i]))
        feats["downsamples"] = _longest(
            arch, lambda i: L.is_pool(labels[i]) or (L.is_conv(labels[i]) and arch.layers[i].stride == 2)
        )
        feats["log2_width"] = sum(math.log2(arch.layers[i].units) for i in convs) / max(1, len(convs))
        feats["res_frac"] = sum(labels[i].startswith("res") for i in convs) / max(1, len(convs))
        feats["k3_frac"] = sum(labels[i].endswith("3") for i in convs) / max(1, len(convs))
        fcs = [arch.layers[i].units for i, x in enumerate(labels) if x == "fc"]
        feats["log2_fc"] = sum(math.log2(u) for u in fcs) / len(fcs) if fcs else float("nan")
    else:
        acts = [i for i, x in enumerate(labels) if L.is_processing(x)]
        feats["depth"] = _longest(arch, lambda i: L.is_processing(labels[i]))
        feats["log2_width"] = sum(math.log2(arch.layers[i].units) for i in acts) / max(1, len(acts))
        feats["rect_frac"] = sum(labels[i] in L.MLP_RECTIFIERS for i in acts) / max(1, len(acts))
    return feats


def synthetic_error(arch: Architecture, num_params: int) -> float:
    """The converged value (what infinitely many epochs would give), in [BEST, 1)."""
    f = structure_features(arch)
    v = BEST + 0.05 * math.exp(-f["skips"] / 2.0)
    v += 0.03 * max(0.0, math.log10(max(num_params, 1)) - 6.5)
    if arch.kind == "cnn":
        v += _bowl(f["depth"], CNN_OPT["depth"], 7.0, 0.15)
        v += _bowl(f["log2_width"], CNN_OPT["log2_width"], 3.0, 0.10)
        v += _bowl(f["res_frac"], CNN_OPT["res_frac"], 0.5, 0.06)
        v += _bowl(f["k3_frac"], CNN_OPT["k3_frac"], 0.6, 0.04)
        v += _bowl(f["downsamples"], CNN_OPT["downsamples"], 3.0, 0.06)
        v += 0.03 if math.isnan(f["log2_fc"]) else _bowl(f["log2_fc"], CNN_OPT["log2_fc"], 4.0, 0.03)
    else:
        v += _bowl(f["depth"], MLP_OPT["depth"], 4.0, 0.15)
        v += _bowl(f["log2_width"], MLP_OPT["log2_width"], 3.0, 0.12)
        v += _bowl(f["rect_frac"], MLP_OPT["rect_frac"], 0.7, 0.08)
    return min(v, 0.99)


def _hash_normal(arch_id: str, seed: int) -> float:
    h = hashlib.sha256(f"{arch_id}:{seed}".encode()).digest()
    u1 = (int.from_bytes(h[:8], "big") + 1) / (2**64 + 1)
    u2 = int.from_bytes(h[8:16], "big") / 2**64
    return math.sqrt(-2 * math.log(u1)) * math.cos(2 * math.pi * u2)


def evaluate_synthetic(arch: Architecture, task, epochs: int, seed: int, on_progress=None) -> Result:
    """The synthetic task's `evaluate`: instant, deterministic, with a learning curve."""
    shape, outs = NOMINAL_SHAPES[arch.kind]
    plan = plan_network(arch, shape, outs)
    common = {"num_params": plan.num_params, "flops": plan.macs, "device": "cpu",
              "extra": {"task": task.name, "seed": seed}}
    if plan.num_params > task.option("max_params", 10_000_000):
        return Result.failure(f"too large: {plan.num_params:,} parameters exceed the budget of "
                              f"{task.option('max_params'):,}", **common)
    final = synthetic_error(arch, plan.num_params)
    noise = float(task.option("noise", 0.0) or 0.0)
    if noise:
        final = min(0.99, max(0.0, final + noise * _hash_normal(arch.id, seed)))
    curve = []
    for e in range(1, epochs + 1):
        val = final + (START - final) * math.exp(-e / TAU)
        point = EpochPoint(epoch=e, train_loss=2.3 * val, val_error=val, seconds=0.0)
        curve.append(point)
        if on_progress is not None:
            on_progress(point)
    value = curve[-1].val_error
    test = min(1.0, value + 0.01 * abs(_hash_normal(arch.id, seed + 1)))
    return Result(value=value, test_error=test, epochs=epochs, curve=tuple(curve), **common)
