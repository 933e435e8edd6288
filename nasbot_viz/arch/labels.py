"""Layer-label vocabularies and groups, exactly as the authors' code names them (reference §1)."""

from __future__ import annotations

from typing import Literal

Kind = Literal["cnn", "mlp"]
KINDS: tuple[str, ...] = ("cnn", "mlp")

CNN_CONV_LABELS = ("conv3", "res3", "conv5", "res5", "conv7", "res7")
CNN_POOL_LABELS = ("max-pool", "avg-pool")
# Dragonfly's order (get_cnn_layer_labels(7)); label-mismatch tables are indexed by it.
CNN_LABELS = ("ip", "op", "fc", "max-pool", "avg-pool", "softmax") + CNN_CONV_LABELS

MLP_RECTIFIERS = ("relu", "crelu", "leaky-relu", "softplus", "elu")
MLP_SIGMOIDS = ("logistic", "tanh")
MLP_OUTPUT_LABELS = ("linear", "softmax")
MLP_LABELS = ("ip", "op") + MLP_RECTIFIERS + MLP_SIGMOIDS + MLP_OUTPUT_LABELS

LABELS = {"cnn": CNN_LABELS, "mlp": MLP_LABELS}

# Structural-penalty groups (reference §4); 'all' contains every layer.
STRUCTURAL_GROUPS = {"cnn": ("all", "conv", "pool", "fc"), "mlp": ("all", "rectifier", "sigmoid")}
PATH_TYPES = ("shortest", "longest", "rw")

NON_PROCESSING = ("ip", "op", "softmax", "linear")
OUTPUT_LABELS = ("softmax", "linear")


def is_conv(label: str) -> bool:
    return "conv" in label or "res" in label


def is_pool(label: str) -> bool:
    return "pool" in label


def is_processing(label: str) -> bool:
    return label not in NON_PROCESSING


def layer_group(kind: str, label: str) -> str | None:
    """The structural group of a label (None for ip/op/outputs, which only sit in 'all')."""
    if kind == "cnn":
        if is_conv(label):
            return "conv"
        if is_pool(label):
            return "pool"
        if label == "fc":
            return "fc"
        return None
    if label in MLP_RECTIFIERS:
        return "rectifier"
    if label in MLP_SIGMOIDS:
        return "sigmoid"
    return None


def has_units(kind: str, label: str) -> bool:
    """Whether a layer with this label carries a unit (channel) count."""
    if label in NON_PROCESSING:
        return False
    return not (kind == "cnn" and is_pool(label))


def kernel_size(label: str) -> int:
    """The kernel size of a conv/res label: conv3 → 3."""
    return int(label[-1])
