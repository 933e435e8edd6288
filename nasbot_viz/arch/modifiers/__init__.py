"""The nine NASBOT network modifiers as replayable records, and the mutation operator (reference §7).

>>> rng = numpy.random.default_rng(0)
>>> child, lineage = mutate(parent, rng, Constraints())     # doctest: +SKIP
>>> [m.describe() for m in lineage]                          # doctest: +SKIP
>>> lineage[0].apply(parent) == ...                          # replays exactly
"""

from nasbot_viz.arch.modifiers.candidates import CANDIDATE_BUILDERS
from nasbot_viz.arch.modifiers.records import (
    CHANGE_FRACTION,
    MODIFIERS,
    DecEnMasse,
    DecSingle,
    DupPath,
    IncEnMasse,
    IncSingle,
    InvalidModifierRecord,
    Modifier,
    RemoveLayer,
    Skip,
    SwapLabel,
    WedgeLayer,
    directly_modifiable,
    modifier_from_dict,
)
from nasbot_viz.arch.modifiers.steps import (
    NUM_STEPS_PROBS,
    TYPE_WEIGHTS,
    available_modifiers,
    draw_num_steps,
    multi_step_modifications,
    mutate,
    single_step_modifications,
)
from nasbot_viz.errors import ModifierNotApplicable

__all__ = [
    "CANDIDATE_BUILDERS",
    "CHANGE_FRACTION",
    "MODIFIERS",
    "NUM_STEPS_PROBS",
    "TYPE_WEIGHTS",
    "DecEnMasse",
    "DecSingle",
    "DupPath",
    "IncEnMasse",
    "IncSingle",
    "InvalidModifierRecord",
    "Modifier",
    "ModifierNotApplicable",
    "RemoveLayer",
    "Skip",
    "SwapLabel",
    "WedgeLayer",
    "available_modifiers",
    "directly_modifiable",
    "draw_num_steps",
    "modifier_from_dict",
    "multi_step_modifications",
    "mutate",
    "single_step_modifications",
]
