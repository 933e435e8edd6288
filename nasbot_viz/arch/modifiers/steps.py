"""Applying modifiers as NASBOT's mutation operator does (reference §7.2, the authors' `NNModifier`)."""

from __future__ import annotations

import numpy as np

from nasbot_viz.arch.architecture import Architecture
from nasbot_viz.arch.constraints import Constraints
from nasbot_viz.arch.modifiers.candidates import CANDIDATE_BUILDERS
from nasbot_viz.arch.modifiers.records import Modifier
from nasbot_viz.errors import ModifierNotApplicable

# `_PRIMITIVE_PROB_MASSES`, under this project's names (swap_label ≙ swap_layer, dup_path ≙ branch).
TYPE_WEIGHTS: dict[str, float] = {
    "inc_single": 0.1,
    "dec_single": 0.1,
    "inc_en_masse": 0.1,
    "dec_en_masse": 0.1,
    "swap_label": 0.2,
    "wedge_layer": 0.1,
    "remove_layer": 0.1,
    "dup_path": 0.2,
    "skip": 0.2,
}
# NASBOT's ga_mutation_op_distro 'd0.5-0.25-0.125-0.075-0.05': P(1 step), …, P(5 steps).
NUM_STEPS_PROBS: tuple[float, ...] = (0.5, 0.25, 0.125, 0.075, 0.05)

Lineage = tuple[Modifier, ...]


def available_modifiers(
    arch: Architecture, rng: np.random.Generator, constraints: Constraints | None = None
) -> dict[str, list[Modifier]]:
    """Candidate records per type, their randomness drawn from `rng` (`get_primitives_grouped_by_type`).

    Without `constraints` the lists are the authors' (validity is checked only when applied, which
    keeps mutation cheap). With `constraints`, every candidate is applied and only those giving a
    valid network inside the constraints are kept: useful to show what can happen next.
    """
    out = {name: build(arch, rng) for name, build in CANDIDATE_BUILDERS.items()}
    if constraints is not None:
        out = {name: [m for m in mods if _try_apply(arch, m, constraints) is not None] for name, mods in out.items()}
    return out


def _try_apply(arch: Architecture, record: Modifier, constraints: Constraints | None) -> Architecture | None:
    try:
        child = record.apply(arch)
    except ModifierNotApplicable:
        return None
    if constraints is not None and not constraints.is_satisfied(child):
        return None
    return child


def single_step_modifications(
    arch: Architecture, n: int, rng: np.random.Generator, constraints: Constraints | None = None
) -> list[tuple[Architecture, Modifier]]:
    """Up to n children one modification away (`get_single_step_modifications`); may return fewer."""
    if n <= 0:
        return []
    names = list(TYPE_WEIGHTS)
    weights = np.array([TYPE_WEIGHTS[k] for k in names])
    drawn = rng.choice(len(names), size=max(2 * n, 20), p=weights / weights.sum())
    # The authors build and shuffle every type's list up front; building a list only when its
    # type is first drawn gives the same distribution and skips most of the work when n is small.
    groups: dict[str, list[Modifier]] = {}
    out: list[tuple[Architecture, Modifier]] = []
    for k in drawn:
        name = names[int(k)]
        if name not in groups:
            groups[name] = CANDIDATE_BUILDERS[name](arch, rng)
            rng.shuffle(groups[name])
        if not groups[name]:
            continue
        record = groups[name].pop()
        child = _try_apply(arch, record, constraints)
        if child is not None:
            out.append((child, record))
            if len(out) >= n:
                break
    return out


def draw_num_steps(rng: np.random.Generator) -> int:
    """How many modifications one mutation chains: 1..5 with probabilities .5 .25 .125 .075 .05."""
    p = np.asarray(NUM_STEPS_PROBS)
    return int(rng.choice(len(p), p=p / p.sum())) + 1


def _extend(
    child: Architecture, lineage: Lineage, more_steps: int, rng: np.random.Generator, constraints: Constraints | None
) -> tuple[Architecture, Lineage]:
    """Modify further, one modification per step; stop at the first step that finds nothing."""
    for _ in range(more_steps):
        step = single_step_modifications(child, 1, rng, constraints)
        if not step:
            break
        child, record = step[0]
        lineage = lineage + (record,)
    return child, lineage


def mutate(
    arch: Architecture,
    rng: np.random.Generator,
    constraints: Constraints | None = None,
    num_steps: int | None = None,
) -> tuple[Architecture, Lineage] | None:
    """One mutated child and the records that made it, or None if not even one step succeeds.

    `num_steps` defaults to a draw from `draw_num_steps`; a step that fails keeps the network of
    the previous step, as the authors' multi-step modifier does.
    """
    k = draw_num_steps(rng) if num_steps is None else int(num_steps)
    if k < 1:
        raise ValueError(f"num_steps must be at least 1, got {num_steps}")
    first = single_step_modifications(arch, 1, rng, constraints)
    if not first:
        return None
    child, record = first[0]
    return _extend(child, (record,), k - 1, rng, constraints)


def multi_step_modifications(
    arch: Architecture,
    n: int,
    rng: np.random.Generator,
    constraints: Constraints | None = None,
    num_steps: int | None = None,
) -> list[tuple[Architecture, Lineage]]:
    """Up to n mutated children (`get_modifications_for_a_single_nn` + `get_multi_step_modifications`).

    A step count is drawn per requested child (or `num_steps` for all); for each count k the
    children are made in one single-step batch and then each is modified k-1 more times.
    """
    if n <= 0:
        return []
    if num_steps is not None:
        counts = {int(num_steps): n}
    else:
        p = np.asarray(NUM_STEPS_PROBS)
        draws = rng.choice(len(p), size=n, p=p / p.sum()) + 1
        counts = {int(k): int(np.sum(draws == k)) for k in range(1, len(p) + 1)}
    out: list[tuple[Architecture, Lineage]] = []
    for k, m in sorted(counts.items()):
        if m == 0:
            continue
        if k < 1:
            raise ValueError(f"num_steps must be at least 1, got {k}")
        for child, record in single_step_modifications(arch, m, rng, constraints):
            out.append(_extend(child, (record,), k - 1, rng, constraints))
    return out
