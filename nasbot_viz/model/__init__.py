"""The NASBOT model: the OTMANN kernel (reference §6) and a GP on architectures."""

from nasbot_viz.model.gp import GPHyperparameters, OTMANNGP, TuningReport, tune_hyperparameters
from nasbot_viz.model.kernel import KernelParams, kernel_matrix, project_psd, safe_cholesky

__all__ = [
    "GPHyperparameters",
    "KernelParams",
    "OTMANNGP",
    "TuningReport",
    "kernel_matrix",
    "project_psd",
    "safe_cholesky",
    "tune_hyperparameters",
]
