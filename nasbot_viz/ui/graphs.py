"""graphviz pictures of networks and of the OTMANN transport plan between two of them.

SVGs come from `Digraph.pipe(format="svg")` (the system ``dot`` binary runs as a subprocess),
stripped of the XML prolog so Panel's SVG pane can inline them, and cached by architecture id.
When ``dot`` is missing every function says so plainly and `arch_text` gives a text fallback.
"""

from __future__ import annotations

import html
import shutil
import threading
from collections import OrderedDict
from typing import Any, Iterable, Sequence

import numpy as np

from nasbot_viz.arch import labels as L
from nasbot_viz.arch.architecture import Architecture
from nasbot_viz.arch.masses import layer_masses

DOT_MISSING = (
    "graphviz's `dot` program is not installed, so networks are listed as text. "
    "Install it (Debian/Ubuntu: `apt-get install graphviz`, macOS: `brew install graphviz`) to see the graphs."
)

_FILL = {"conv": "#dbe9f6", "pool": "#fde7c8", "fc": "#e3d7f0", "out": "#d5f0d5", "io": "#f9d3e0", "other": "#eeeeee"}
CHANGED_COLOR = "#e6550d"


def dot_available() -> bool:
    """Whether the graphviz `dot` binary is on PATH (checked each call: cheap, and tests patch PATH)."""
    return shutil.which("dot") is not None


class _LRU:
    def __init__(self, size: int = 256):
        self.size = size
        self._d: OrderedDict[Any, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> str | None:
        with self._lock:
            v = self._d.get(key)
            if v is not None:
                self._d.move_to_end(key)
            return v

    def put(self, key: Any, value: str) -> None:
        with self._lock:
            self._d[key] = value
            self._d.move_to_end(key)
            while len(self._d) > self.size:
                self._d.popitem(last=False)

    def __len__(self) -> int:
        return len(self._d)


_CACHE = _LRU()


def _group(kind: str, label: str) -> str:
    if label in ("ip", "op"):
        return "io"
    if label in L.OUTPUT_LABELS:
        return "out"
    g = L.layer_group(kind, label)
    if g in ("conv", "pool", "fc"):
        return g
    return "other" if kind == "cnn" else ("conv" if g == "rectifier" else "fc")


def layer_text(arch: Architecture, i: int, masses: Sequence[float] | None = None) -> str:
    """'conv3 · 32 units · stride 2 · mass 288' — what one layer node says."""
    lay = arch.layers[i]
    parts = [lay.label]
    if lay.units is not None:
        parts.append(f"{lay.units} units")
    if lay.stride == 2:
        parts.append("stride 2")
    if masses is not None:
        parts.append(f"mass {masses[i]:.0f}")
    return " · ".join(parts)


def arch_text(arch: Architecture, changed: Iterable[int] = ()) -> str:
    """A plain-text listing (the fallback when `dot` is missing): one line per layer with its inputs."""
    masses = layer_masses(arch)
    changed = set(changed)
    lines = []
    for i in range(arch.num_layers):
        ins = ", ".join(str(p) for p in arch.parents[i]) or "-"
        mark = "  ← changed" if i in changed else ""
        lines.append(f"{i:>2}: {layer_text(arch, i, masses)}  (from {ins}){mark}")
    return "\n".join(lines)


def _strip_prolog(raw: str) -> str:
    return raw[raw.index("<svg"):] if "<svg" in raw else raw


def _node_attrs(arch: Architecture, i: int, changed: set[int]) -> dict[str, str]:
    label = arch.layers[i].label
    g = _group(arch.kind, label)
    attrs = {"shape": "ellipse" if g == "io" else "box", "style": "rounded,filled" if g != "io" else "filled",
             "fillcolor": _FILL[g], "color": "#555555", "fontname": "Helvetica", "fontsize": "10"}
    if i in changed:
        attrs.update(color=CHANGED_COLOR, penwidth="3", fontcolor=CHANGED_COLOR)
    return attrs


def _add_arch(g: Any, arch: Architecture, prefix: str, changed: set[int]) -> None:
    masses = layer_masses(arch)
    for i in range(arch.num_layers):
        text = f"{i}: " + layer_text(arch, i, masses).replace(" · ", "\n", 1).replace(" · ", ", ")
        g.node(f"{prefix}{i}", text, **_node_attrs(arch, i, changed))
    for u, v in arch.edges:
        g.edge(f"{prefix}{u}", f"{prefix}{v}", color="#777777", arrowsize="0.6")


def arch_svg(arch: Architecture, changed: Iterable[int] = (), title: str | None = None) -> str:
    """SVG of one network, changed layers outlined in orange; cached by (id, changed, title)."""
    changed_t = tuple(sorted(set(int(c) for c in changed)))
    key = ("arch", arch.id, changed_t, title)
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    import graphviz

    g = graphviz.Digraph(graph_attr={"rankdir": "TB", "nodesep": "0.15", "ranksep": "0.22", "bgcolor": "transparent",
                                     "label": html.escape(title or ""), "labelloc": "t", "fontname": "Helvetica",
                                     "fontsize": "11"})
    _add_arch(g, arch, "n", set(changed_t))
    svg = _strip_prolog(g.pipe(format="svg", encoding="utf-8"))
    _CACHE.put(key, svg)
    return svg


def plan_matches(plan: Any, threshold: float = 0.05) -> list[tuple[int, int, float]]:
    """(layer in a, layer in b, mass moved) for plan entries above `threshold` × the smaller layer mass."""
    T = np.asarray(getattr(plan, "matrix", plan), dtype=float)
    ma = np.asarray(getattr(plan, "masses_a", T[:-1, :].sum(1)), dtype=float)
    mb = np.asarray(getattr(plan, "masses_b", T[:, :-1].sum(0)), dtype=float)
    out = []
    for i in range(len(ma)):
        for j in range(len(mb)):
            ref = max(min(ma[i], mb[j]), 1e-12)
            if T[i, j] > threshold * ref:
                out.append((i, j, float(T[i, j])))
    return out


def plan_unassigned(plan: Any, threshold: float = 0.05) -> tuple[list[int], list[int]]:
    """Layers of a / b that send (receive) more than `threshold` of their mass to the sink."""
    T = np.asarray(getattr(plan, "matrix", plan), dtype=float)
    ma = np.asarray(getattr(plan, "masses_a", T[:-1, :].sum(1)), dtype=float)
    mb = np.asarray(getattr(plan, "masses_b", T[:, :-1].sum(0)), dtype=float)
    ua = [i for i in range(len(ma)) if T[i, -1] > threshold * max(ma[i], 1e-12)]
    ub = [j for j in range(len(mb)) if T[-1, j] > threshold * max(mb[j], 1e-12)]
    return ua, ub


def transport_svg(a: Architecture, b: Architecture, plan: Any, *, title: str = "", threshold: float = 0.05) -> str:
    """Both networks side by side; a dashed blue edge for every layer pair the plan matches (width ∝
    mass moved), and grey dotted outlines for layers whose mass went (mostly) unassigned."""
    key = ("plan", a.id, b.id, title, round(threshold, 4))
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    import graphviz

    matches = plan_matches(plan, threshold)
    ua, ub = plan_unassigned(plan, threshold)
    g = graphviz.Digraph(graph_attr={"rankdir": "TB", "newrank": "true", "nodesep": "0.2", "ranksep": "0.25",
                                     "bgcolor": "transparent", "label": html.escape(title), "labelloc": "t",
                                     "fontname": "Helvetica", "fontsize": "11"})
    for prefix, arch, unassigned, name in (("a", a, ua, "A"), ("b", b, ub, "B")):
        with g.subgraph(name=f"cluster_{prefix}") as c:
            c.attr(label=name, color="#bbbbbb", fontname="Helvetica")
            _add_arch(c, arch, prefix, set())
            for i in unassigned:
                c.node(f"{prefix}{i}", style="rounded,filled,dashed", color="#999999", fontcolor="#777777")
    top = max((m for _, _, m in matches), default=1.0)
    for i, j, m in matches:
        g.edge(f"a{i}", f"b{j}", constraint="false", dir="none", style="dashed", color="#3182bd",
               penwidth=f"{0.6 + 2.4 * m / top:.2f}", tooltip=f"layer {i} → layer {j}: mass {m:.1f}")
    svg = _strip_prolog(g.pipe(format="svg", encoding="utf-8"))
    _CACHE.put(key, svg)
    return svg
