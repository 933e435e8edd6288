"""The nine modifiers as frozen, picklable records (reference §7.1).

A record carries every random outcome already resolved (the layer, the new label, the rewiring,
the copied layers, ...), so `apply` is a pure function of the parent: a proposal's lineage can be
stored as JSON, shown, and replayed exactly. Layer indices refer to the parent's canonical order.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from typing import Any, ClassVar, Iterable, Mapping

from nasbot_viz.arch import labels as L
from nasbot_viz.arch.architecture import Architecture, Layer, _kahn_order, find_violations
from nasbot_viz.errors import ModifierNotApplicable

CHANGE_FRACTION = 0.125


class InvalidModifierRecord(ModifierNotApplicable, ValueError):
    """A stored modifier record cannot be read back (unknown name, missing or bad fields)."""


def scaled_units(units: int, increase: bool) -> int:
    """The authors' unit change: round((1 ± 0.125)·units) with Python's half-to-even round."""
    ratio = 1 + CHANGE_FRACTION if increase else 1 - CHANGE_FRACTION
    return round(ratio * units)


def directly_modifiable(arch: Architecture) -> list[int]:
    """Layers whose units a unit-change modifier may touch: conv/res/fc (CNN), activations (MLP)."""
    if arch.kind == "cnn":
        return [i for i, x in enumerate(arch.layers) if L.is_conv(x.label) or x.label == "fc"]
    return [i for i, x in enumerate(arch.layers) if x.label in L.MLP_RECTIFIERS + L.MLP_SIGMOIDS]


def _layer_text(label: str, units: int | None = None, stride: int | None = None) -> str:
    text = label if units is None else f"{label}({units})"
    return text + (" /2" if stride == 2 else "")


class _Draft:
    """A mutable copy of a parent's layers and edges; new layers are appended at the end."""

    def __init__(self, arch: Architecture):
        self.kind = arch.kind
        self.layers = list(arch.layers)
        self.edges = set(arch.edges)
        self.changed: set[int] = set()

    def add_layer(self, layer: Layer) -> int:
        self.layers.append(layer)
        self.changed.add(len(self.layers) - 1)
        return len(self.layers) - 1

    def add_chain(self, start: int, end: int, new_layers: Iterable[Layer]) -> list[int]:
        """start → new_1 → … → new_k → end (or the edge start → end when there are none)."""
        idxs = [self.add_layer(x) for x in new_layers]
        nodes = [start, *idxs, end]
        for u, v in zip(nodes, nodes[1:]):
            self.edges.add((u, v))
        return idxs

    def set_layer(self, i: int, layer: Layer) -> None:
        self.layers[i] = layer
        self.changed.add(i)

    def delete_layer(self, i: int) -> None:
        self.edges = {(u, v) for u, v in self.edges if i not in (u, v)}
        shift = lambda j: j - 1 if j > i else j  # noqa: E731
        self.edges = {(shift(u), shift(v)) for u, v in self.edges}
        self.changed = {shift(j) for j in self.changed if j != i}
        del self.layers[i]

    def build(self, record: "Modifier") -> tuple[Architecture, frozenset[int]]:
        edges = sorted(self.edges)
        problems = find_violations(self.kind, self.layers, edges)
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise ModifierNotApplicable(f"{record.describe()}: the result is not a valid network: {problems[0]}{more}")
        order = _kahn_order(len(self.layers), edges)
        position = {old: new for new, old in enumerate(order)}
        child = Architecture.create(self.kind, self.layers, edges, check=False)
        return child, frozenset(position[i] for i in self.changed)


@dataclass(frozen=True)
class Modifier:
    """Base of the nine records: `apply`, `apply_with_changes`, `describe`, `to_dict`."""

    name: ClassVar[str] = ""

    def apply(self, arch: Architecture) -> Architecture:
        """The child network; raises `ModifierNotApplicable` when the result would be invalid."""
        return self.apply_with_changes(arch)[0]

    def apply_with_changes(self, arch: Architecture) -> tuple[Architecture, frozenset[int]]:
        """The child and the indices (child's canonical order) of its new or changed layers.

        Changed means: new layers (wedge, copies, skip pools); layers whose units, label or stride
        changed; and layers whose inputs changed (a skip's end, a removed layer's children).
        """
        draft = _Draft(arch)
        self._edit(arch, draft)
        return draft.build(self)

    def _edit(self, arch: Architecture, draft: _Draft) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name}
        for f in fields(self):
            d[f.name] = _to_json(getattr(self, f.name))
        return d

    def __str__(self) -> str:
        return self.describe()

    # ----------------------------------------------------------------------- precondition helpers
    def _need_layer(self, arch: Architecture, i: int, label: str | None = None) -> Layer:
        if not 0 <= i < arch.num_layers:
            raise ModifierNotApplicable(f"{self.describe()}: layer {i} does not exist ({arch.num_layers} layers)")
        layer = arch.layers[i]
        if label is not None and layer.label != label:
            raise ModifierNotApplicable(
                f"{self.describe()}: layer {i} is {layer.label}, not {label}; "
                "the record was drawn for a different network"
            )
        return layer

    def _need_edge(self, arch: Architecture, u: int, v: int) -> None:
        if (u, v) not in set(arch.edges):
            raise ModifierNotApplicable(f"{self.describe()}: the network has no edge {u} → {v}")


def _to_json(x: Any) -> Any:
    if isinstance(x, tuple):
        return [_to_json(y) for y in x]
    return x


def _from_json(x: Any) -> Any:
    if isinstance(x, list):
        return tuple(_from_json(y) for y in x)
    return x


# ------------------------------------------------------------------------------ unit changes
@dataclass(frozen=True)
class _SingleChange(Modifier):
    layer: int
    label: str
    old_units: int
    new_units: int

    def _edit(self, arch: Architecture, draft: _Draft) -> None:
        lay = self._need_layer(arch, self.layer, self.label)
        if self.layer not in directly_modifiable(arch):
            raise ModifierNotApplicable(f"{self.describe()}: layer {self.layer} ({lay.label}) has no units to change")
        if lay.units != self.old_units:
            raise ModifierNotApplicable(
                f"{self.describe()}: layer {self.layer} has {lay.units} units, not {self.old_units}; "
                "the record was drawn for a different network"
            )
        draft.set_layer(self.layer, Layer(lay.label, self.new_units, lay.stride))

    def describe(self) -> str:
        verb = "increase" if self.name.startswith("inc") else "decrease"
        return f"{verb} layer {self.layer} {self.label}: {self.old_units}→{self.new_units} units"


@dataclass(frozen=True)
class IncSingle(_SingleChange):
    """Grow one conv/res/fc (CNN) or activation (MLP) layer by 12.5 %."""

    name: ClassVar[str] = "inc_single"


@dataclass(frozen=True)
class DecSingle(_SingleChange):
    """Shrink one conv/res/fc (CNN) or activation (MLP) layer by 12.5 %."""

    name: ClassVar[str] = "dec_single"


@dataclass(frozen=True)
class _EnMasseChange(Modifier):
    group: int
    num_groups: int
    layers: tuple[int, ...]
    new_units: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.layers) != len(self.new_units):
            raise InvalidModifierRecord(
                f"{self.name}: {len(self.layers)} layers but {len(self.new_units)} new unit counts"
            )

    def _edit(self, arch: Architecture, draft: _Draft) -> None:
        modifiable = set(directly_modifiable(arch))
        for i, units in zip(self.layers, self.new_units):
            lay = self._need_layer(arch, i)
            if i not in modifiable:
                raise ModifierNotApplicable(f"{self.describe()}: layer {i} ({lay.label}) has no units to change")
            draft.set_layer(i, Layer(lay.label, units, lay.stride))

    def describe(self) -> str:
        verb = "increase" if self.name.startswith("inc") else "decrease"
        which = ", ".join(str(i) for i in self.layers)
        return f"{verb} group {self.group}/{self.num_groups} en masse (layers {which})"


@dataclass(frozen=True)
class IncEnMasse(_EnMasseChange):
    """Grow a contiguous group (1/2, 1/4 or 1/8 of the modifiable layers) by 12.5 %."""

    name: ClassVar[str] = "inc_en_masse"


@dataclass(frozen=True)
class DecEnMasse(_EnMasseChange):
    """Shrink a contiguous group (1/2, 1/4 or 1/8 of the modifiable layers) by 12.5 %."""

    name: ClassVar[str] = "dec_en_masse"


# ------------------------------------------------------------------------------ structure
@dataclass(frozen=True)
class SwapLabel(Modifier):
    """Replace a layer's label (conv kernel/res, pooling kind, MLP activation family); §7.1 swap_layer."""

    name: ClassVar[str] = "swap_label"
    layer: int
    old_label: str
    new_label: str
    stride: int | None

    def _edit(self, arch: Architecture, draft: _Draft) -> None:
        lay = self._need_layer(arch, self.layer, self.old_label)
        units = None if arch.kind == "cnn" and L.is_pool(self.new_label) else lay.units
        stride = self.stride if arch.kind == "cnn" else None
        draft.set_layer(self.layer, Layer(self.new_label, units, stride))

    def describe(self) -> str:
        text = f"swap layer {self.layer} {self.old_label} → {self.new_label}"
        return text + (" /2" if self.stride == 2 else "")


@dataclass(frozen=True)
class WedgeLayer(Modifier):
    """Insert a new layer on the edge u → v (u → new → v, the old edge removed)."""

    name: ClassVar[str] = "wedge_layer"
    edge: tuple[int, int]
    label: str
    units: int | None
    stride: int | None

    def _edit(self, arch: Architecture, draft: _Draft) -> None:
        u, v = self.edge
        self._need_edge(arch, u, v)
        draft.edges.discard((u, v))
        draft.add_chain(u, v, [Layer(self.label, self.units, self.stride)])

    def describe(self) -> str:
        u, v = self.edge
        return f"wedge {_layer_text(self.label, self.units, self.stride)} between layer {u} and {v}"


@dataclass(frozen=True)
class RemoveLayer(Modifier):
    """Delete a layer, rewire its orphaned parents/children, and repair strides if it down-sampled."""

    name: ClassVar[str] = "remove_layer"
    layer: int
    label: str
    new_edges: tuple[tuple[int, int], ...]
    stride_2: tuple[int, ...] = ()

    def _edit(self, arch: Architecture, draft: _Draft) -> None:
        lay = self._need_layer(arch, self.layer, self.label)
        if lay.label in ("ip", "op"):
            raise ModifierNotApplicable(f"{self.describe()}: the {lay.label} layer cannot be removed")
        for i in self.stride_2:
            old = self._need_layer(arch, i)
            draft.set_layer(i, Layer(old.label, old.units, 2))
        for u, v in self.new_edges:
            self._need_layer(arch, u)
            self._need_layer(arch, v)
            draft.edges.add((u, v))
        draft.changed.update(arch.children[self.layer])  # their inputs changed
        draft.delete_layer(self.layer)

    def describe(self) -> str:
        text = f"remove layer {self.layer} ({self.label})"
        if self.new_edges:
            text += ", rewire " + ", ".join(f"{u}→{v}" for u, v in self.new_edges)
        if self.stride_2:
            text += ", stride 2 on " + ", ".join(str(i) for i in self.stride_2)
        return text


@dataclass(frozen=True)
class DupPath(Modifier):
    """Copy a path as a parallel branch path[0] → copies → path[-1] (§7.1 branch)."""

    name: ClassVar[str] = "dup_path"
    path: tuple[int, ...]
    copied: tuple[int, ...]

    def _edit(self, arch: Architecture, draft: _Draft) -> None:
        if len(self.path) < 2:
            raise ModifierNotApplicable(f"{self.describe()}: a path needs at least two layers")
        for u, v in zip(self.path, self.path[1:]):
            self._need_edge(arch, u, v)
        inner = set(self.path[1:-1])
        if any(i not in inner for i in self.copied):
            raise ModifierNotApplicable(f"{self.describe()}: copied layers must lie strictly inside the path")
        if not self.copied:
            raise ModifierNotApplicable(f"{self.describe()}: nothing to copy")
        draft.add_chain(self.path[0], self.path[-1], [arch.layers[i] for i in self.copied])

    def describe(self) -> str:
        path = "→".join(str(i) for i in self.path)
        copied = ", ".join(str(i) for i in self.copied)
        return f"duplicate path {path} (copying {copied})"


@dataclass(frozen=True)
class Skip(Modifier):
    """Add a skip connection start → end, through `num_pools` pooling layers when the image shrinks."""

    name: ClassVar[str] = "skip"
    start: int
    end: int
    num_pools: int = 0
    pool_label: str = "avg-pool"

    def _edit(self, arch: Architecture, draft: _Draft) -> None:
        self._need_layer(arch, self.start)
        self._need_layer(arch, self.end)
        if self.num_pools == 0 and (self.start, self.end) in set(arch.edges):
            raise ModifierNotApplicable(f"{self.describe()}: the edge already exists")
        if self.num_pools and arch.kind != "cnn":
            raise ModifierNotApplicable(f"{self.describe()}: only CNNs have pooling layers")
        draft.add_chain(self.start, self.end, [Layer(self.pool_label)] * self.num_pools)
        draft.changed.add(self.end)

    def describe(self) -> str:
        via = f" via {self.num_pools} {self.pool_label}" if self.num_pools else ""
        return f"skip {self.start} → {self.end}{via}"


MODIFIERS: dict[str, type[Modifier]] = {
    cls.name: cls
    for cls in (IncSingle, DecSingle, IncEnMasse, DecEnMasse, RemoveLayer, WedgeLayer, SwapLabel, DupPath, Skip)
}


def modifier_from_dict(d: Mapping[str, Any]) -> Modifier:
    """Read back `record.to_dict()`; anything malformed raises `InvalidModifierRecord`."""
    if not isinstance(d, Mapping):
        raise InvalidModifierRecord(f"a modifier record must be an object, got {type(d).__name__}")
    name = d.get("name")
    cls = MODIFIERS.get(name)  # type: ignore[arg-type]
    if cls is None:
        raise InvalidModifierRecord(f"unknown modifier {name!r}; known: {', '.join(MODIFIERS)}")
    names = [f.name for f in fields(cls)]
    unknown = sorted(set(d) - set(names) - {"name"})
    if unknown:
        raise InvalidModifierRecord(f"{name}: unknown field(s) {unknown}; expected {names}")
    missing = [f.name for f in fields(cls) if f.name not in d and f.default is MISSING]
    if missing:
        raise InvalidModifierRecord(f"{name}: missing field(s) {missing}")
    values = {k: _from_json(v) for k, v in d.items() if k != "name"}
    for f in fields(cls):
        if f.name in values and not _matches(values[f.name], str(f.type)):
            raise InvalidModifierRecord(f"{name}: field {f.name!r} must be {f.type}, got {values[f.name]!r}")
    return cls(**values)


def _matches(value: Any, annotation: str) -> bool:
    """Check a JSON value against the few field annotations the records use."""
    annotation = annotation.strip()
    if annotation.endswith("| None"):
        return value is None or _matches(value, annotation[: -len("| None")])
    if annotation == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation == "str":
        return isinstance(value, str)
    if annotation.startswith("tuple[") and annotation.endswith(", ...]"):
        inner = annotation[len("tuple["): -len(", ...]")]
        return isinstance(value, tuple) and all(_matches(x, inner) for x in value)
    if annotation.startswith("tuple["):
        parts = [p.strip() for p in annotation[len("tuple["):-1].split(",")]
        return isinstance(value, tuple) and len(value) == len(parts) and all(
            _matches(x, p) for x, p in zip(value, parts)
        )
    raise AssertionError(f"unhandled annotation {annotation}")  # pragma: no cover
