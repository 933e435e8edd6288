"""The family tree of a search: which proposal came from which parent through which modifiers.

Each trial's *tree parent* is its first parent (the one the modifiers were applied to); trials
without parents are the initial pool (depth 0). The layout is a tidy tree drawn top-down: depth is
one more than the tree parent's, and leaves are spread left to right in depth-first order, with
each parent centred over its children. Plain data, no UI.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence


def describe_modifier(m: Mapping[str, Any] | Any) -> str:
    """A short human text for one modifier record (its own `describe()` when the registry knows it)."""
    if hasattr(m, "describe"):
        return str(m.describe())
    if isinstance(m, Mapping):
        try:
            from nasbot_viz.arch.modifiers import modifier_from_dict

            return str(modifier_from_dict(dict(m)).describe())
        except Exception:  # unknown or older record: fall back to its fields
            pass
        d = dict(m)
        name = d.pop("name", None) or d.pop("kind", None) or d.pop("type", None) or "modifier"
        args = ", ".join(f"{k}={v}" for k, v in d.items() if not isinstance(v, (dict, list)))
        return f"{name}({args})" if args else str(name)
    return str(m)


def describe_modifiers(mods: Iterable[Any]) -> str:
    texts = [describe_modifier(m) for m in mods or ()]
    return " → ".join(texts) if texts else ""


@dataclass(frozen=True)
class LineageNode:
    trial_id: int
    parent: int | None  # tree parent (first parent), None for the initial pool
    depth: int
    x: float
    y: float
    modifiers: str  # text of the modifiers that produced it from `parent`
    origin: str


def _trial_fields(t: Any) -> tuple[int, tuple[int, ...], tuple[Any, ...], str]:
    if isinstance(t, Mapping):
        return int(t["trial_id"]), tuple(t.get("parents") or ()), tuple(t.get("modifiers") or ()), str(t.get("origin", ""))
    return int(t.trial_id), tuple(t.parents or ()), tuple(t.modifiers or ()), str(getattr(t, "origin", ""))


def lineage_layout(trials: Sequence[Any], texts: Mapping[int, str] | None = None) -> dict[int, LineageNode]:
    """Positions for every trial (TrialRecords or dicts with trial_id/parents/modifiers/origin).

    `texts` optionally gives each trial's modifier text already described (a live view caches it
    per trial, since describing every trial's modifiers on each update was a sizeable cost).
    """
    texts = texts or {}
    info = {}
    for t in trials:
        tid, parents, mods, origin = _trial_fields(t)
        info[tid] = (parents, mods, origin)
    parent_of: dict[int, int | None] = {}
    for tid, (parents, _, _) in info.items():
        p = next((p for p in parents if p in info and p != tid), None)
        parent_of[tid] = p
    children: dict[int | None, list[int]] = {}
    for tid in sorted(info):
        children.setdefault(parent_of[tid], []).append(tid)
    depth: dict[int, int] = {}
    x: dict[int, float] = {}
    next_leaf = 0.0
    # Iterative post-order DFS (deep chains must not hit the recursion limit).
    roots = children.get(None, [])
    # Trials whose parent chain loops (should never happen) are attached as roots.
    reachable: set[int] = set()
    stack: list[tuple[int, int, bool]] = [(r, 0, False) for r in reversed(roots)]
    while stack:
        node, d, expanded = stack.pop()
        if expanded:
            kids = children.get(node, [])
            x[node] = (x[kids[0]] + x[kids[-1]]) / 2.0 if kids else next_leaf
            if not kids:
                next_leaf += 1.0
            continue
        if node in reachable:
            continue
        reachable.add(node)
        depth[node] = d
        stack.append((node, d, True))
        for k in reversed(children.get(node, [])):
            stack.append((k, d + 1, False))
    for tid in sorted(set(info) - reachable):  # cycles: place at the end, depth 0
        depth[tid], x[tid] = 0, next_leaf
        next_leaf += 1.0
        parent_of[tid] = None
    return {
        tid: LineageNode(tid, parent_of[tid], depth[tid], x[tid], -float(depth[tid]),
                         texts[tid] if tid in texts else describe_modifiers(info[tid][1]), info[tid][2])
        for tid in info
    }


def lineage_edges(nodes: Mapping[int, LineageNode]) -> list[tuple[int, int, str]]:
    """(parent, child, modifier text) for every tree edge."""
    return [(n.parent, n.trial_id, n.modifiers) for n in nodes.values() if n.parent is not None]


def path_to_root(nodes: Mapping[int, LineageNode], trial_id: int | None) -> list[int]:
    """The tree path from the initial pool down to `trial_id` (root first); [] if unknown."""
    path: list[int] = []
    seen: set[int] = set()
    cur = trial_id
    while cur is not None and cur in nodes and cur not in seen:
        seen.add(cur)
        path.append(cur)
        cur = nodes[cur].parent
    return path[::-1]
