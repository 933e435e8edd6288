"""The NASBOT kernel over the 8 OTMANN distances (reference §6) and a PSD-safe Cholesky.

``K = α_lp·exp(−Σ_i β_lp,i·lp_i) + α_emd·exp(−Σ_i β_emd,i·emd_i²)``, where the distance tensor
has shape (8, n, m) in `nasbot_viz.distance.VARIANTS` order ``[lp_s0.1, emd_s0.1, lp_s0.25, ...]``,
so the lp distances are the even slices and the emd distances the odd ones.

``exp(−β·d)`` of a pseudo-distance is not guaranteed positive semi-definite, so `safe_cholesky`
tries a plain Cholesky (then with a little jitter) and only projects negative eigenvalues to 0
when that fails: the projection is an ``eigh`` and costs 9–15× a Cholesky (perf anchors §3.2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

NUM_DISTANCES = 8
LP_SLICE = slice(0, NUM_DISTANCES, 2)
EMD_SLICE = slice(1, NUM_DISTANCES, 2)


@dataclass(frozen=True)
class KernelParams:
    """Kernel hyperparameters; the alphas are variances, the betas inverse length scales."""

    alpha_lp: float
    alpha_emd: float
    beta_lp: tuple[float, float, float, float]
    beta_emd: tuple[float, float, float, float]

    @property
    def prior_variance(self) -> float:
        """k(x, x): every distance of a network to itself is 0."""
        return float(self.alpha_lp + self.alpha_emd)

    def to_dict(self) -> dict[str, object]:
        return {
            "alpha_lp": float(self.alpha_lp),
            "alpha_emd": float(self.alpha_emd),
            "beta_lp": [float(b) for b in self.beta_lp],
            "beta_emd": [float(b) for b in self.beta_emd],
        }

    @classmethod
    def from_dict(cls, d: dict) -> "KernelParams":
        return cls(float(d["alpha_lp"]), float(d["alpha_emd"]), tuple(d["beta_lp"]), tuple(d["beta_emd"]))


def split_distances(distances: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(8, n, m) distances → (lp (4, n, m), emd² (4, n, m)), the kernel's two inputs."""
    d = np.asarray(distances, dtype=float)
    if d.ndim != 3 or d.shape[0] != NUM_DISTANCES:
        raise ValueError(f"distances must have shape (8, n, m), got {d.shape}")
    return d[LP_SLICE], d[EMD_SLICE] ** 2


def kernel_parts(lp: np.ndarray, emd_sq: np.ndarray, params: KernelParams) -> tuple[np.ndarray, np.ndarray]:
    """The two summands of the kernel, kept apart because the likelihood gradient needs both."""
    k_lp = params.alpha_lp * np.exp(-np.tensordot(np.asarray(params.beta_lp), lp, axes=1))
    k_emd = params.alpha_emd * np.exp(-np.tensordot(np.asarray(params.beta_emd), emd_sq, axes=1))
    return k_lp, k_emd


def kernel_matrix(distances: np.ndarray, params: KernelParams) -> np.ndarray:
    """K(X, X') from the (8, n, m) OTMANN distance tensor."""
    k_lp, k_emd = kernel_parts(*split_distances(distances), params)
    return k_lp + k_emd


@dataclass(frozen=True)
class CholeskyResult:
    factor: np.ndarray  # lower triangular L with L Lᵀ = K (possibly repaired)
    method: str  # 'cholesky', 'jitter' or 'projected'
    jitter: float = 0.0


def safe_cholesky(
    kernel: np.ndarray, noise: float, max_jitter_tries: int = 3, allow_projection: bool = True
) -> CholeskyResult:
    """Cholesky of ``kernel + noise·I``; jitter, then PSD projection, only when needed.

    With ``allow_projection=False`` a failure raises `numpy.linalg.LinAlgError` instead: the
    hyperparameter search uses that to stay among hyperparameters giving a valid GP.
    """
    n = kernel.shape[0]
    a = kernel + noise * np.eye(n)
    try:
        return CholeskyResult(np.linalg.cholesky(a), "cholesky")
    except np.linalg.LinAlgError:
        pass
    scale = float(np.mean(np.diag(kernel))) if n else 1.0
    jitter = 1e-10 * max(scale, 1e-300)
    for _ in range(max_jitter_tries):
        try:
            return CholeskyResult(np.linalg.cholesky(a + jitter * np.eye(n)), "jitter", jitter)
        except np.linalg.LinAlgError:
            jitter *= 100.0
    if not allow_projection:
        raise np.linalg.LinAlgError("kernel matrix is not positive definite")
    return CholeskyResult(project_psd_cholesky(kernel, noise), "projected")


def project_psd(kernel: np.ndarray) -> np.ndarray:
    """Clip the negative eigenvalues of a symmetric matrix to 0 (the authors' 'project_first')."""
    sym = 0.5 * (kernel + kernel.T)
    w, v = scipy.linalg.eigh(sym)
    w = np.clip(w, 0.0, None)
    return (v * w) @ v.T


def project_psd_cholesky(kernel: np.ndarray, noise: float) -> np.ndarray:
    n = kernel.shape[0]
    a = project_psd(kernel) + noise * np.eye(n)
    a = 0.5 * (a + a.T)
    jitter = 1e-12 * max(float(np.mean(np.diag(a))), 1e-300)
    for _ in range(8):
        try:
            return np.linalg.cholesky(a)
        except np.linalg.LinAlgError:
            a = a + jitter * np.eye(n)
            jitter *= 100.0
    raise np.linalg.LinAlgError("kernel matrix could not be repaired to positive definite")
