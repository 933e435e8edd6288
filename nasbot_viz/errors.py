"""The error tree: every failure a user can cause maps to one of these, never a bare traceback."""

from __future__ import annotations


class NasbotVizError(Exception):
    """Base class of every error nasbot-viz raises on purpose."""


class InvalidArchitectureError(NasbotVizError, ValueError):
    """An architecture breaks a validity rule; ``violations`` lists each one, naming the layer or edge."""

    def __init__(self, violations: list[str] | str, name: str | None = None):
        if isinstance(violations, str):
            violations = [violations]
        self.violations = list(violations)
        self.name = name
        prefix = f"{name}: " if name else ""
        if len(self.violations) == 1:
            message = prefix + self.violations[0]
        else:
            message = prefix + f"{len(self.violations)} problems:\n" + "\n".join(
                f"  - {v}" for v in self.violations
            )
        super().__init__(message)


class ConstraintViolation(InvalidArchitectureError):
    """A valid architecture lies outside the search space's constraints (reference §7.4)."""


class ModifierNotApplicable(NasbotVizError):
    """A modifier cannot be applied to this architecture (for example: no layer to remove)."""


class SearchError(NasbotVizError, ValueError):
    """Misuse of a searcher: unknown trial id, told twice, non-finite value, wrong kind."""


class StoreError(NasbotVizError):
    """A run store cannot be opened or read: not a store, newer schema, missing run."""


class TaskError(NasbotVizError, ValueError):
    """A task or dataset cannot be built: unknown name, missing data, wrong shapes."""
