"""The search space's constraint checker (reference §7.4, the authors' `NNConstraintChecker`).

Validity (§7.3) says whether a graph is a network at all; constraints say whether a valid network
lies inside the search space the user asked for (size, mass, degrees, units, down-sampling). The
modifiers discard children that fail either.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

from nasbot_viz.arch.architecture import Architecture
from nasbot_viz.arch.masses import layer_masses
from nasbot_viz.errors import ConstraintViolation, NasbotVizError

_UPPER_BOUNDS = ("max_num_layers", "max_mass", "max_in_degree", "max_out_degree", "max_num_edges", "max_units")
_PAIRS = (("min_num_layers", "max_num_layers"), ("min_mass", "max_mass"), ("min_units", "max_units"))


class InvalidConstraints(NasbotVizError, ValueError):
    """A constraint setting is nonsense (negative, not a number, min above max, unknown key)."""


def _fmt(x: float) -> str:
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    return f"{x:g}" if isinstance(x, float) else str(x)


@dataclass(frozen=True)
class Constraints:
    """Limits a network must satisfy; defaults are those of the NASBOT demos (§7.4).

    Upper bounds may be ``math.inf`` (no limit); ``max_num_2strides=None`` means the image may
    be down-sampled any number of times (CNN only: the largest inverse image size after any layer
    must be at most ``2**max_num_2strides``).
    """

    max_num_layers: float = 60
    min_num_layers: float = 5
    max_mass: float = math.inf
    min_mass: float = 0
    max_in_degree: float = 5
    max_out_degree: float = 55
    max_num_edges: float = 200
    max_units: float = 1024
    min_units: float = 8
    max_num_2strides: int | None = None

    def __post_init__(self) -> None:
        problems: list[str] = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "max_num_2strides":
                if value is not None and (not _is_int(value) or value < 0):
                    problems.append(f"max_num_2strides must be a non-negative integer or None, got {value!r}")
                continue
            if not _is_number(value) or math.isnan(value):
                problems.append(f"{f.name} must be a number, got {value!r}")
            elif value < 0:
                problems.append(f"{f.name} must be >= 0, got {_fmt(value)}")
            elif math.isinf(value) and f.name not in _UPPER_BOUNDS:
                problems.append(f"{f.name} must be finite, got {value!r}")
        if not problems:
            for lo, hi in _PAIRS:
                if getattr(self, lo) > getattr(self, hi):
                    problems.append(
                        f"{lo}={_fmt(getattr(self, lo))} is greater than {hi}={_fmt(getattr(self, hi))}"
                    )
        if problems:
            raise InvalidConstraints("invalid constraints: " + "; ".join(problems))

    # ------------------------------------------------------------------------------ checking
    def violations(self, arch: Architecture) -> list[str]:
        """Every limit the network breaks, in the authors' order, each naming the limit and the value."""
        v: list[str] = []
        n = arch.num_layers
        if n > self.max_num_layers:
            v.append(f"{n} layers exceeds max_num_layers={_fmt(self.max_num_layers)}")
        if n < self.min_num_layers:
            v.append(f"{n} layers is below min_num_layers={_fmt(self.min_num_layers)}")
        mass = float(layer_masses(arch).sum())
        if mass > self.max_mass:
            v.append(f"total mass {mass:g} exceeds max_mass={_fmt(self.max_mass)}")
        if mass < self.min_mass:
            v.append(f"total mass {mass:g} is below min_mass={_fmt(self.min_mass)}")
        out_deg = max(len(c) for c in arch.children)
        in_deg = max(len(p) for p in arch.parents)
        if out_deg > self.max_out_degree:
            worst = max(range(n), key=lambda i: len(arch.children[i]))
            v.append(
                f"layer {worst} ({arch.layers[worst].label}) has out-degree {out_deg}, "
                f"exceeding max_out_degree={_fmt(self.max_out_degree)}"
            )
        if in_deg > self.max_in_degree:
            worst = max(range(n), key=lambda i: len(arch.parents[i]))
            v.append(
                f"layer {worst} ({arch.layers[worst].label}) has in-degree {in_deg}, "
                f"exceeding max_in_degree={_fmt(self.max_in_degree)}"
            )
        if len(arch.edges) > self.max_num_edges:
            v.append(f"{len(arch.edges)} edges exceeds max_num_edges={_fmt(self.max_num_edges)}")
        units = [(i, u) for i, u in enumerate(arch.units) if u is not None]
        if units:
            i_max, u_max = max(units, key=lambda t: t[1])
            i_min, u_min = min(units, key=lambda t: t[1])
            if u_max > self.max_units:
                v.append(
                    f"layer {i_max} ({arch.layers[i_max].label}) has {u_max} units, "
                    f"exceeding max_units={_fmt(self.max_units)}"
                )
            if u_min < self.min_units:
                v.append(
                    f"layer {i_min} ({arch.layers[i_min].label}) has {u_min} units, "
                    f"below min_units={_fmt(self.min_units)}"
                )
        if arch.kind == "cnn" and self.max_num_2strides is not None:
            sizes = [s for s in arch.inverse_image_sizes if s is not None]
            limit = 2**self.max_num_2strides
            if sizes and max(sizes) > limit:
                v.append(
                    f"the image is down-sampled to 1/{max(sizes)} of its size, more than "
                    f"max_num_2strides={self.max_num_2strides} allows (1/{limit})"
                )
        return v

    def is_satisfied(self, arch: Architecture) -> bool:
        """True when `violations` is empty; the modifiers' filter."""
        return not self.violations(arch)

    def __call__(self, arch: Architecture) -> bool:
        return self.is_satisfied(arch)

    def check(self, arch: Architecture) -> None:
        """Raise `ConstraintViolation` listing every broken limit."""
        v = self.violations(arch)
        if v:
            raise ConstraintViolation(v, arch.name)

    # ------------------------------------------------------------------------------ JSON
    def to_dict(self) -> dict[str, Any]:
        """JSON-able: an unlimited upper bound (inf) is written as None."""
        d = asdict(self)
        for k in _UPPER_BOUNDS:
            if math.isinf(d[k]):
                d[k] = None
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Constraints":
        """Inverse of `to_dict`; missing keys take the defaults, unknown keys are an error."""
        if not isinstance(d, Mapping):
            raise InvalidConstraints(f"constraints must be a JSON object, got {type(d).__name__}")
        names = [f.name for f in fields(cls)]
        unknown = [k for k in d if k not in names]
        if unknown:
            hints = []
            for k in unknown:
                close = difflib.get_close_matches(str(k), names, n=1)
                hints.append(f"'{k}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
            raise InvalidConstraints(f"unknown constraint(s) {', '.join(hints)}; known: {', '.join(names)}")
        kwargs = dict(d)
        for k in _UPPER_BOUNDS:
            if k in kwargs and kwargs[k] is None:
                kwargs[k] = math.inf
        return cls(**kwargs)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)
