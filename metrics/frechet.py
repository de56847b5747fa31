"""Fréchet distance, Inception Score and KID of feature sets, in float64 on the host.

docs/protocol.md §7.4: the Fréchet distance uses the symmetric eigenvalue route,
tr sqrt(S1 S2) = sum sqrt(eig(S1^1/2 S2 S1^1/2)), which is real and stable for any pair of
covariances, including rank-deficient ones (no scipy ``sqrtm``). IS without splits (v1);
KID is the unbiased MMD with the cubic kernel.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.linalg
import scipy.special


@dataclasses.dataclass(frozen=True)
class Statistics:
    """Mean and covariance (float64) of n feature vectors; ``features`` kept for KID."""

    mu: np.ndarray
    sigma: np.ndarray
    n: int
    features: np.ndarray | None = None


def feature_statistics(features: np.ndarray, keep_features: bool = False) -> Statistics:
    """Mean and unbiased covariance in float64 of [n, d] features (n >= 2, all finite)."""
    features = np.asarray(features)
    if features.ndim != 2:
        raise ValueError(f"features have shape {features.shape}; expected [n, d]")
    if features.shape[0] < 2:
        raise ValueError(
            f"FID needs at least 2 samples, got {features.shape[0]}; evaluate more images"
        )
    if not np.all(np.isfinite(features)):
        raise ValueError("features contain NaN or infinite values; check the images fed to FID")
    x = features.astype(np.float64)
    mu = x.mean(axis=0)
    centred = x - mu
    sigma = centred.T @ centred / (x.shape[0] - 1)
    return Statistics(mu, sigma, x.shape[0], features if keep_features else None)


def _check_moments(mu: np.ndarray, sigma: np.ndarray, which: str) -> tuple[np.ndarray, np.ndarray]:
    mu = np.atleast_1d(np.asarray(mu, np.float64))
    sigma = np.atleast_2d(np.asarray(sigma, np.float64))
    if mu.ndim != 1 or sigma.shape != (mu.size, mu.size):
        raise ValueError(
            f"{which} statistics have mu {mu.shape} and sigma {sigma.shape}; need [d], [d, d]"
        )
    if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(sigma))):
        raise ValueError(f"{which} statistics contain NaN or infinite values; recompute them")
    return mu, sigma


def sqrt_psd(sigma: np.ndarray) -> np.ndarray:
    """Symmetric square root of a covariance; tiny negative eigenvalues (rounding) count as 0."""
    sym = (sigma + sigma.T) / 2
    w, v = scipy.linalg.eigh(sym, driver="evd")
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(
    mu1: np.ndarray,
    sigma1: np.ndarray,
    mu2: np.ndarray,
    sigma2: np.ndarray,
    sqrt_sigma1: np.ndarray | None = None,
) -> float:
    """||mu1 - mu2||^2 + tr S1 + tr S2 - 2 tr sqrt(S1 S2), in float64 (docs/protocol.md §7.4).

    tr sqrt(S1 S2) equals sum sqrt(eig(A)) with A = S1^1/2 S2 S1^1/2 symmetric PSD, so
    the eigenvalues are real; negative rounding is clipped. Pass ``sqrt_sigma1`` to reuse
    the square root of a fixed reference covariance. The result is clipped at 0.
    """
    mu1, sigma1 = _check_moments(mu1, sigma1, "first")
    mu2, sigma2 = _check_moments(mu2, sigma2, "second")
    if mu1.shape != mu2.shape:
        raise ValueError(f"statistics differ in dimension: {mu1.size} vs {mu2.size}")
    root = sqrt_psd(sigma1) if sqrt_sigma1 is None else sqrt_sigma1
    a = root @ sigma2 @ root
    eig = scipy.linalg.eigh((a + a.T) / 2, eigvals_only=True, driver="evd")
    tr_covmean = float(np.sum(np.sqrt(np.clip(eig, 0.0, None))))
    diff = mu1 - mu2
    value = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_covmean)
    return max(value, 0.0)


def fid_from_features(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """FID between two [n, d] feature sets."""
    a, b = feature_statistics(features_a), feature_statistics(features_b)
    return frechet_distance(a.mu, a.sigma, b.mu, b.sigma)


def inception_score(logits: np.ndarray) -> float:
    """exp(E_x KL(p(y|x) || p(y))) over all samples at once (v1: no splits), float64."""
    logits = np.asarray(logits, np.float64)
    if logits.ndim != 2 or logits.shape[0] < 1:
        raise ValueError(f"logits have shape {logits.shape}; expected [n, classes]")
    if not np.all(np.isfinite(logits)):
        raise ValueError("logits contain NaN or infinite values; check the images")
    log_p = logits - scipy.special.logsumexp(logits, axis=1, keepdims=True)
    p = np.exp(log_p)
    log_py = np.log(np.mean(p, axis=0))
    kl = np.sum(p * (log_p - log_py), axis=1)
    return float(np.exp(np.mean(kl)))


def _mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    d = x.shape[1]
    kxx = (x @ x.T / d + 1.0) ** 3
    kyy = (y @ y.T / d + 1.0) ** 3
    kxy = (x @ y.T / d + 1.0) ** 3
    m, n = x.shape[0], y.shape[0]
    return float(
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
        + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
        - 2.0 * kxy.mean()
    )


def kernel_inception_distance(
    features_a: np.ndarray, features_b: np.ndarray, subset_size: int = 1000
) -> float:
    """KID: unbiased MMD^2 with the kernel k(x, y) = (x.y / d + 1)^3 (Binkowski et al.).

    The sets are cut into consecutive disjoint blocks of ``subset_size`` (the last partial
    block dropped; one block when a set is smaller) and the block MMDs are averaged:
    deterministic, and O(n * subset_size) rather than O(n^2).
    """
    a = np.asarray(features_a, np.float64)
    b = np.asarray(features_b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"KID features have shapes {a.shape} and {b.shape}; need [n, d] each")
    if min(a.shape[0], b.shape[0]) < 2:
        raise ValueError("KID needs at least 2 samples per set; evaluate more images")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        raise ValueError("KID features contain NaN or infinite values; check the images")
    size = max(2, min(subset_size, a.shape[0], b.shape[0]))
    blocks = min(a.shape[0], b.shape[0]) // size
    values = [
        _mmd2_unbiased(a[i * size : (i + 1) * size], b[i * size : (i + 1) * size])
        for i in range(blocks)
    ]
    return float(np.mean(values))
