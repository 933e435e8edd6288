"""OTMANN settings (reference §3, §5): coefficients, variant names and the label-mismatch tables.

The defaults are NASBOT's: nap = 1, mislabel coefficients (1, 1, 1, 1) and struct coefficients
(0.1, 0.25, 0.61, 1.5), which give the 8 variants ``lp_s0.1, emd_s0.1, …, emd_s1.5``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from nasbot_viz.arch import labels as L

REPLACE_COST_INF_WITH = 7.65432e5
CONV_RES_RAW_COST_FRAC = 0.9
CONV_SCALE = math.sqrt(2) / 10.0


def _fmt(x: float) -> str:
    return f"{x:g}"


@dataclass(frozen=True)
class OTMANNConfig:
    """Coefficients of the OTMANN program; one OT solve per (mislabel, struct) pair, two variants each."""

    nap: float = 1.0
    mislabel_coeffs: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0)
    struct_coeffs: tuple[float, ...] = (0.1, 0.25, 0.61, 1.5)

    def __post_init__(self) -> None:
        m = tuple(float(x) for x in self.mislabel_coeffs)
        s = tuple(float(x) for x in self.struct_coeffs)
        object.__setattr__(self, "mislabel_coeffs", m)
        object.__setattr__(self, "struct_coeffs", s)
        object.__setattr__(self, "nap", float(self.nap))
        if len(m) != len(s) or not m:
            raise ValueError(
                f"mislabel_coeffs ({len(m)}) and struct_coeffs ({len(s)}) need the same, non-zero length"
            )
        bad = [x for x in m + s if not math.isfinite(x) or x < 0]
        if bad:
            raise ValueError(f"OTMANN coefficients must be finite and >= 0, got {bad}")
        if not (math.isfinite(self.nap) and self.nap > 0):
            raise ValueError(f"the non-assignment penalty must be finite and > 0, got {self.nap}")
        if len(set(self.pair_keys)) != len(self.pair_keys):
            raise ValueError(f"duplicate coefficient pairs: {list(zip(m, s))}")

    @property
    def pair_keys(self) -> list[str]:
        """One key per coefficient pair: 's0.1' (or 'm0.5_s0.1' when the mislabel coefficient is not 1)."""
        keys = []
        for m, s in zip(self.mislabel_coeffs, self.struct_coeffs):
            keys.append(f"s{_fmt(s)}" if m == 1.0 else f"m{_fmt(m)}_s{_fmt(s)}")
        return keys

    @property
    def variants(self) -> list[str]:
        """Distance names in the authors' return order: lp then emd for each coefficient pair."""
        return [f"{t}_{k}" for k in self.pair_keys for t in ("lp", "emd")]

    @property
    def num_pairs(self) -> int:
        return len(self.struct_coeffs)


DEFAULT_CONFIG = OTMANNConfig()
VARIANTS: list[str] = DEFAULT_CONFIG.variants


def _cnn_raw_cost(labi: str, labj: str, nap: float) -> float:
    def conv_cost() -> float:
        return CONV_SCALE * np.sqrt(float(abs(int(labi[-1]) - int(labj[-1]))))

    if labi == labj:
        return 0.0
    if (labi.startswith("conv") and labj.startswith("conv")) or (labi.startswith("res") and labj.startswith("res")):
        return conv_cost()
    if (labi.startswith("conv") and labj.startswith("res")) or (labi.startswith("res") and labj.startswith("conv")):
        raw = conv_cost()
        return raw if raw > nap else CONV_RES_RAW_COST_FRAC * raw + (1 - CONV_RES_RAW_COST_FRAC) * nap
    if labi.endswith("pool") and labj.endswith("pool"):
        return 0.5
    return np.inf


def _mlp_raw_cost(labi: str, labj: str, nap: float) -> float:
    if labi == labj:
        return 0.0
    rect, sig = L.MLP_RECTIFIERS, L.MLP_SIGMOIDS
    if (labi in rect and labj in rect) or (labi in sig and labj in sig):
        return 0.1
    if labi in rect + sig and labj in rect + sig:
        return 0.25
    return np.inf


@lru_cache(maxsize=32)
def label_mismatch_table(kind: str, nap: float = 1.0) -> np.ndarray:
    """Label × label mismatch cost (inf where layers may not be matched), indexed like `labels.LABELS[kind]`."""
    labels = L.LABELS[kind]
    raw = _cnn_raw_cost if kind == "cnn" else _mlp_raw_cost
    n = len(labels)
    table = np.zeros((n, n))
    for i in range(n):
        for j in range(i, n):
            table[i, j] = table[j, i] = raw(labels[i], labels[j], nap) * nap
    table.setflags(write=False)
    return table
