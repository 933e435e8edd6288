"""Architectures: label vocabularies, the frozen `Architecture`, path lengths, constraints, modifiers."""

from nasbot_viz.arch.architecture import Architecture, Layer, find_violations
from nasbot_viz.arch.masses import layer_masses
from nasbot_viz.arch.paths import path_length_categories, path_lengths
from nasbot_viz.errors import InvalidArchitectureError

__all__ = [
    "Architecture",
    "InvalidArchitectureError",
    "Layer",
    "find_violations",
    "layer_masses",
    "path_length_categories",
    "path_lengths",
]
