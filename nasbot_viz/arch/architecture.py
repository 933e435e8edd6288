"""The frozen `Architecture`: a layer DAG in the paper's vocabulary, validated on construction.

Layers are kept in the authors' canonical order (Kahn's algorithm from ``ip`` with a FIFO queue
and children in ascending index order, reference §1), so masses, path lengths and distances are
indexed exactly as the reference data index them, and the content id does not depend on how a
user happened to number the layers of an already-canonical network.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections import deque
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Iterable, Mapping

from nasbot_viz.arch import labels as L
from nasbot_viz.errors import InvalidArchitectureError


@dataclass(frozen=True)
class Layer:
    label: str
    units: int | None = None
    stride: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "units": self.units, "stride": self.stride}


@dataclass(frozen=True, eq=False)
class Architecture:
    """A validated network. Build it with `from_dict` or `Architecture.create`; equality is by content."""

    kind: str
    layers: tuple[Layer, ...]
    edges: tuple[tuple[int, int], ...]
    name: str | None = None
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    # ----------------------------------------------------------------------------- construction
    @classmethod
    def create(
        cls,
        kind: str,
        layers: Iterable[Layer | Mapping[str, Any]],
        edges: Iterable[Iterable[int]],
        name: str | None = None,
        *,
        check: bool = True,
    ) -> "Architecture":
        """Validate (reporting the caller's own layer indices) and store in canonical order."""
        layer_list = [lay if isinstance(lay, Layer) else _layer_from_mapping(lay, i) for i, lay in enumerate(layers)]
        edge_list = [tuple(int(x) for x in e) for e in edges]
        if check:
            violations = find_violations(kind, layer_list, edge_list)
            if violations:
                raise InvalidArchitectureError(violations, name)
        order = _kahn_order(len(layer_list), edge_list)
        position = {old: new for new, old in enumerate(order)}
        new_layers = tuple(layer_list[old] for old in order)
        new_edges = tuple(sorted((position[u], position[v]) for u, v in edge_list))
        return cls(kind=kind, layers=new_layers, edges=new_edges, name=name)

    @classmethod
    def from_dict(cls, d: Any) -> "Architecture":
        """Parse the fixtures' JSON format; any malformation raises `InvalidArchitectureError`."""
        if not isinstance(d, Mapping):
            raise InvalidArchitectureError(f"an architecture must be a JSON object, got {type(d).__name__}")
        name = d.get("name")
        problems: list[str] = []
        kind = d.get("kind")
        if kind not in L.KINDS:
            problems.append(f"'kind' must be one of {list(L.KINDS)}, got {kind!r}")
        if name is not None and not isinstance(name, str):
            problems.append(f"'name' must be a string, got {type(name).__name__}")
            name = None
        layers = d.get("layers")
        edges = d.get("edges")
        if not isinstance(layers, list) or not layers:
            problems.append("'layers' must be a non-empty list of {label, units, stride} objects")
        if not isinstance(edges, list):
            problems.append("'edges' must be a list of [from, to] pairs")
        if problems:
            raise InvalidArchitectureError(problems, name)
        parsed_layers: list[Layer] = []
        for i, raw in enumerate(layers):
            try:
                parsed_layers.append(_layer_from_mapping(raw, i))
            except InvalidArchitectureError as err:
                problems.extend(err.violations)
        parsed_edges: list[tuple[int, int]] = []
        for k, e in enumerate(edges):
            if (
                not isinstance(e, (list, tuple))
                or len(e) != 2
                or not all(isinstance(x, int) and not isinstance(x, bool) for x in e)
            ):
                problems.append(f"edge #{k} {e!r} must be a pair of integer layer indices [from, to]")
                continue
            parsed_edges.append((e[0], e[1]))
        if problems:
            raise InvalidArchitectureError(problems, name)
        return cls.create(kind, parsed_layers, parsed_edges, name)

    @classmethod
    def from_json(cls, text: str) -> "Architecture":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise InvalidArchitectureError(f"malformed JSON: {err.msg} at line {err.lineno} column {err.colno}") from None
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind}
        if self.name is not None:
            d["name"] = self.name
        d["layers"] = [lay.to_dict() for lay in self.layers]
        d["edges"] = [list(e) for e in self.edges]
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def with_name(self, name: str | None) -> "Architecture":
        return Architecture(self.kind, self.layers, self.edges, name)

    # ----------------------------------------------------------------------------- identity
    @cached_property
    def id(self) -> str:
        """A stable content id: the same layers and edges give the same id, whatever the name."""
        payload = json.dumps(
            [self.kind, [[x.label, x.units, x.stride] for x in self.layers], [list(e) for e in self.edges]],
            separators=(",", ":"),
        )
        return hashlib.sha1(payload.encode()).hexdigest()[:16]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Architecture) and self.id == other.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        return f"<Architecture{label} {self.kind} {len(self.layers)} layers {len(self.edges)} edges id={self.id}>"

    # ----------------------------------------------------------------------------- graph views
    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(x.label for x in self.layers)

    @property
    def units(self) -> tuple[int | None, ...]:
        return tuple(x.units for x in self.layers)

    @property
    def strides(self) -> tuple[int | None, ...]:
        return tuple(x.stride for x in self.layers)

    @cached_property
    def children(self) -> tuple[tuple[int, ...], ...]:
        out: list[list[int]] = [[] for _ in self.layers]
        for u, v in self.edges:
            out[u].append(v)
        return tuple(tuple(sorted(c)) for c in out)

    @cached_property
    def parents(self) -> tuple[tuple[int, ...], ...]:
        out: list[list[int]] = [[] for _ in self.layers]
        for u, v in self.edges:
            out[v].append(u)
        return tuple(tuple(sorted(p)) for p in out)

    @property
    def topological_order(self) -> tuple[int, ...]:
        """Layers are stored topologically sorted, ip first and op last."""
        return tuple(range(len(self.layers)))

    @property
    def ip(self) -> int:
        return 0

    @property
    def op(self) -> int:
        return len(self.layers) - 1

    @cached_property
    def num_processing_layers(self) -> int:
        return sum(1 for x in self.layers if L.is_processing(x.label))

    @cached_property
    def inverse_image_sizes(self) -> tuple[int | None, ...]:
        """CNN only: 1 at ip, doubled by pooling and stride-2 convs, None after fc (reference §7.3)."""
        return tuple(_inverse_image_sizes(self.kind, list(self.layers), self.parents)[0])


# --------------------------------------------------------------------------------- validation
def _layer_from_mapping(raw: Any, i: int) -> Layer:
    if not isinstance(raw, Mapping):
        raise InvalidArchitectureError(f"layer {i} must be an object with label/units/stride, got {raw!r}")
    problems = []
    label = raw.get("label")
    units = raw.get("units")
    stride = raw.get("stride")
    if not isinstance(label, str):
        problems.append(f"layer {i}: 'label' must be a string, got {label!r}")
    if units is not None and (not isinstance(units, int) or isinstance(units, bool)):
        if isinstance(units, float) and units.is_integer():
            units = int(units)
        else:
            problems.append(f"layer {i}: 'units' must be an integer or null, got {units!r}")
    if stride is not None and (not isinstance(stride, int) or isinstance(stride, bool)):
        problems.append(f"layer {i}: 'stride' must be 1, 2 or null, got {stride!r}")
    if problems:
        raise InvalidArchitectureError(problems)
    return Layer(label, units, stride)


def _describe(i: int, layers: list[Layer]) -> str:
    return f"layer {i} ({layers[i].label})" if 0 <= i < len(layers) else f"layer {i}"


def find_violations(kind: str, layers: list[Layer], edges: list[tuple[int, int]]) -> list[str]:
    """Every rule of reference §7.3, each violation naming the layer or edge at fault."""
    if kind not in L.KINDS:
        return [f"'kind' must be one of {list(L.KINDS)}, got {kind!r}"]
    v: list[str] = []
    n = len(layers)
    vocab = L.LABELS[kind]
    for i, lay in enumerate(layers):
        if lay.label not in vocab:
            hint = sorted(difflib.get_close_matches(str(lay.label), vocab, n=3, cutoff=0.6))
            other = "mlp" if kind == "cnn" else "cnn"
            quoted = [f"'{h}'" for h in hint]
            extra = f"; did you mean {' or '.join(quoted)}?" if hint else ""
            if not hint and lay.label in L.LABELS[other]:
                extra = f"; '{lay.label}' is a {other.upper()} label"
            v.append(f"{_describe(i, layers)}: unknown {kind.upper()} label '{lay.label}'{extra}")
    ips = [i for i, x in enumerate(layers) if x.label == "ip"]
    ops = [i for i, x in enumerate(layers) if x.label == "op"]
    if len(ips) != 1:
        v.append("no input layer 'ip'" if not ips else f"{len(ips)} input layers 'ip' (layers {ips}); need exactly one")
    if len(ops) != 1:
        v.append("no output layer 'op'" if not ops else f"{len(ops)} output layers 'op' (layers {ops}); need exactly one")

    good_edges: list[tuple[int, int]] = []
    seen: set[tuple[int, int]] = set()
    for u, w in edges:
        if not (0 <= u < n and 0 <= w < n):
            v.append(f"edge [{u}, {w}] refers to a layer that does not exist (there are {n} layers, 0..{n - 1})")
        elif u == w:
            v.append(f"edge [{u}, {w}] is a self-loop on {_describe(u, layers)}")
        elif (u, w) in seen:
            v.append(f"edge [{u}, {w}] appears twice")
        else:
            seen.add((u, w))
            good_edges.append((u, w))
    children: list[list[int]] = [[] for _ in range(n)]
    parents: list[list[int]] = [[] for _ in range(n)]
    for u, w in good_edges:
        children[u].append(w)
        parents[w].append(u)

    cycle = _find_cycle(n, children)
    if cycle:
        path = " -> ".join(str(i) for i in cycle)
        v.append(f"the graph has a cycle: {path}")

    for i, lay in enumerate(layers):
        if lay.label == "ip" and parents[i]:
            v.append(f"{_describe(i, layers)} has incoming edges from {parents[i]}; the input layer takes none")
        if lay.label == "op" and children[i]:
            v.append(f"{_describe(i, layers)} has outgoing edges to {children[i]}; the output layer gives none")
    if len(ips) == 1 and len(ops) == 1 and not cycle:
        from_ip = _reach(ips[0], children)
        to_op = _reach(ops[0], parents)
        for i in range(n):
            if i not in from_ip:
                v.append(f"{_describe(i, layers)} is unreachable from the input layer")
            elif i not in to_op:
                v.append(f"{_describe(i, layers)} does not lead to the output layer")

    # Units and strides.
    for i, lay in enumerate(layers):
        if lay.label not in vocab:
            continue
        if L.has_units(kind, lay.label):
            if lay.units is None:
                v.append(f"{_describe(i, layers)} needs a positive number of units")
            elif lay.units <= 0:
                v.append(f"{_describe(i, layers)} has units {lay.units}; units must be > 0")
        elif lay.units is not None:
            v.append(f"{_describe(i, layers)} must have units null, got {lay.units}")
        if kind == "cnn" and L.is_conv(lay.label):
            if lay.stride not in (1, 2):
                v.append(f"{_describe(i, layers)} has stride {lay.stride!r}; conv/res strides must be 1 or 2")
        elif lay.stride is not None:
            v.append(f"{_describe(i, layers)} must have stride null, got {lay.stride}")

    # Outputs: op fed only by softmax (CNN) or by one output kind (MLP); outputs feed only op.
    if len(ops) == 1:
        op_parent_labels = {layers[p].label for p in parents[ops[0]]}
        allowed = {"softmax"} if kind == "cnn" else set(L.MLP_OUTPUT_LABELS)
        for p in parents[ops[0]]:
            if layers[p].label not in allowed:
                need = "softmax" if kind == "cnn" else "linear or softmax"
                v.append(f"{_describe(p, layers)} feeds the output layer; only {need} layers may")
        if kind == "mlp" and op_parent_labels >= {"linear", "softmax"}:
            v.append("the output layer is fed by both linear and softmax layers; use one kind")
    for i, lay in enumerate(layers):
        if lay.label in L.OUTPUT_LABELS:
            for c in children[i]:
                if layers[c].label != "op":
                    v.append(f"{_describe(i, layers)} feeds {_describe(c, layers)}; output layers feed only op")

    num_proc = sum(1 for x in layers if x.label in vocab and L.is_processing(x.label))
    if num_proc == 0 and n != 3:
        v.append("the network has no processing layer")

    if kind == "cnn" and not cycle and len(ips) == 1:
        for c in children[ips[0]]:
            if not L.is_conv(layers[c].label):
                v.append(f"{_describe(c, layers)} follows the input layer; only conv/res layers may")
        if all(x.label in vocab for x in layers):
            _, size_problems = _inverse_image_sizes(kind, layers, parents)
            v.extend(size_problems)
    return v


def _inverse_image_sizes(kind: str, layers: list[Layer], parents) -> tuple[list[int | None], list[str]]:
    """Propagate inverse image sizes; report conv/pool after fc and parents that disagree."""
    n = len(layers)
    sizes: list[int | None] = [None] * n
    problems: list[str] = []
    if kind != "cnn":
        return sizes, problems
    edges = [(p, i) for i in range(n) for p in parents[i]]
    order = _kahn_order(n, edges, start=next((i for i, x in enumerate(layers) if x.label == "ip"), 0))
    done: set[int] = set()
    for i in order:
        lay = layers[i]
        done.add(i)
        if lay.label == "ip":
            sizes[i] = 1
            continue
        ps = [p for p in parents[i] if p in done]
        in_sizes = {sizes[p] for p in ps}
        if len(in_sizes) > 1:
            detail = ", ".join(f"{p}: {_size_text(sizes[p])}" for p in ps)
            problems.append(
                f"{_describe(i, layers)} joins parents with different image sizes ({detail}); "
                "all parents must have the same size"
            )
        base = next(iter(in_sizes)) if in_sizes else 1
        if L.is_conv(lay.label) or L.is_pool(lay.label):
            if base is None:
                problems.append(f"{_describe(i, layers)} follows an fc layer; no conv or pooling layer may come after fc")
                sizes[i] = None
            else:
                grow = 2 if (L.is_pool(lay.label) or lay.stride == 2) else 1
                sizes[i] = base * grow
        else:
            sizes[i] = None
    return sizes, problems


def _size_text(s: int | None) -> str:
    return "flat (after fc)" if s is None else f"1/{s}"


def _find_cycle(n: int, children: list[list[int]]) -> list[int] | None:
    color = [0] * n
    stack_path: list[int] = []
    for root in range(n):
        if color[root]:
            continue
        stack = [(root, iter(children[root]))]
        color[root] = 1
        stack_path.append(root)
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                color[node] = 2
                stack.pop()
                stack_path.pop()
            elif color[nxt] == 1:
                return stack_path[stack_path.index(nxt):] + [nxt]
            elif color[nxt] == 0:
                color[nxt] = 1
                stack_path.append(nxt)
                stack.append((nxt, iter(children[nxt])))
    return None


def _reach(start: int, adjacency: list[list[int]]) -> set[int]:
    seen = {start}
    todo = [start]
    while todo:
        for nxt in adjacency[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _kahn_order(n: int, edges: list[tuple[int, int]], start: int | None = None) -> list[int]:
    """Kahn's algorithm from ip with a FIFO queue, children in ascending index order (dragonfly)."""
    children: list[list[int]] = [[] for _ in range(n)]
    indeg = [0] * n
    for u, v in edges:
        children[u].append(v)
        indeg[v] += 1
    for c in children:
        c.sort()
    if start is None:
        roots = [i for i in range(n) if indeg[i] == 0]
        queue = deque(roots)
    else:
        queue = deque([start] + [i for i in range(n) if indeg[i] == 0 and i != start])
    order: list[int] = []
    while queue:
        u = queue.popleft()
        order.append(u)
        for c in children[u]:
            indeg[c] -= 1
            if indeg[c] == 0:
                queue.append(c)
    if len(order) < n:  # only reachable for unchecked input; keep every layer
        order += [i for i in range(n) if i not in set(order)]
    return order
