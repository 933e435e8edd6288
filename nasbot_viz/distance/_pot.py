"""POT's exact network simplex, imported without its optional torch/jax/tf/cupy backends.

`import ot` probes for torch (and imports it, ~2 s) unless told not to; the engine must never
import torch, so the probe is switched off while POT is first imported. If POT was already
imported elsewhere nothing changes. The private C entry point `ot.lp.emd_wrap.emd_c` skips the
Python wrapper of `ot.emd` (75–90 % of a small solve); if it cannot be imported we use `ot.emd`.
"""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np

_BACKEND_SWITCHES = (
    "POT_BACKEND_DISABLE_PYTORCH",
    "POT_BACKEND_DISABLE_JAX",
    "POT_BACKEND_DISABLE_CUPY",
    "POT_BACKEND_DISABLE_TENSORFLOW",
)
MAX_ITER = 100_000  # ot.emd's default numItermax
_OPTIMAL = 1


def _import_pot():
    if "ot" in sys.modules:
        import ot

        return ot
    saved = {k: os.environ.get(k) for k in _BACKEND_SWITCHES}
    try:
        for k in _BACKEND_SWITCHES:
            os.environ[k] = "1"
        import ot
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return ot


ot = _import_pot()

try:
    from ot.lp.emd_wrap import emd_c as _emd_c

    HAVE_EMD_C = True
except ImportError:  # pragma: no cover - depends on the POT build
    _emd_c = None
    HAVE_EMD_C = False


class SolverError(RuntimeError):
    """The network simplex did not reach an optimum (never seen on OTMANN problems)."""


_RESULT_TEXT = {
    0: "problem infeasible (supplies and demands differ)",
    2: "problem unbounded",
    3: "iteration limit reached before optimality",
}


def emd_plan(a: np.ndarray, b: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Optimal plan for histograms a, b (positive, equal sums) and a C-contiguous float64 cost.

    Mirrors `ot.emd`: b is rescaled to a's total, then the C solver runs; a non-optimal exit is
    retried with 10× the iteration limit and then raises instead of warning.
    """
    if not HAVE_EMD_C or not (a.all() and b.all()):
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            try:
                return ot.emd(a, b, cost, numItermax=10 * MAX_ITER)
            except UserWarning as err:
                raise SolverError(f"exact OT failed: {err}") from None
    b = b * a.sum() / b.sum()
    limit = MAX_ITER
    for _ in range(2):
        G, _cost, _u, _v, code = _emd_c(a, b, cost, limit, 1)
        if code == _OPTIMAL:
            return G
        limit *= 10
    raise SolverError(f"exact OT failed: {_RESULT_TEXT.get(code, f'result code {code}')}")


def emd_c_checked(a: np.ndarray, b: np.ndarray, cost: np.ndarray) -> tuple[np.ndarray, float]:
    """(normalised plan, its cost) from the C solver; b must already be rescaled to a's total."""
    G, value, _u, _v, code = _emd_c(a, b, cost, MAX_ITER, 1)
    if code != _OPTIMAL:
        G, value, _u, _v, code = _emd_c(a, b, cost, 10 * MAX_ITER, 1)
        if code != _OPTIMAL:
            raise SolverError(f"exact OT failed: {_RESULT_TEXT.get(code, f'result code {code}')}")
    return G, float(value)
