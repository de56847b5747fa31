"""Spectral normalisation of every weight matrix of a discriminator (Miyato et al. 2018;
docs/protocol.md §13.2).

``spectral_norm(D)`` wraps any D module (``__call__(x, train)``) in flax's
``nn.SpectralNorm``: each kernel of two or more dimensions (dense [in, out], conv
[kh, kw, in, out] read as the matrix [kh kw in, out]) is divided by its largest singular
value, estimated with one power iteration per forward pass from a vector ``u`` kept between
passes; biases, batch-norm scales and other vectors are left alone. The ``u`` vectors (and
the last ``sigma``) live in the ``batch_stats`` collection, the one the run's state already
carries, checkpoints and resumes; training-mode passes update them (one iteration each, as the
authors' ``SNLinear``/``SNConvolution2D`` do on every training-mode call), inference-mode
passes use them without storing the iteration.

Why flax's layer, with one correction: it is the reference power iteration (u <- W^T v
normalised, sigma = v W u with u, v outside the gradient, as Algorithm 1) and stores u where
the run's state already is. But its ``init`` stores the *normalised* kernels (``map_variables``
writes the normalised view back when initialising), so the raw weights would start at
sigma = 1 rather than at the architecture's N(0, 0.02), which changes Adam's relative step
size; :meth:`SpectralNormed.init` puts the inner network's own initial variables back.
"""

from __future__ import annotations

import flax
import flax.linen as nn
import jax
import numpy as np
from flax.traverse_util import flatten_dict

COLLECTION = "batch_stats"  # the collection RunState.batch_stats carries (see the docstring)
POWER_ITERATIONS = 1  # Miyato et al. 2018, Algorithm 1: one iteration per update


class SpectralNormed(nn.Module):
    """``inner`` with every weight matrix spectrally normalised; same call signature."""

    inner: nn.Module

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        wrapped = nn.SpectralNorm(self.inner, n_steps=POWER_ITERATIONS,
                                  collection_name=COLLECTION, name="sn")
        return wrapped(x, train=train, update_stats=train)

    def init(self, rngs, *args, **kwargs):
        """The wrapped network's variables with the raw (not normalised) initial kernels of
        ``inner`` and the power iteration's ``u`` vectors."""
        variables = flax.core.unfreeze(super().init(rngs, *args, **kwargs))
        raw = flax.core.unfreeze(self.inner.init(rngs, *args, **kwargs))
        variables["params"]["inner"] = raw["params"]
        if "batch_stats" in raw:
            variables[COLLECTION]["inner"] = raw["batch_stats"]
        return variables


def spectral_norm(discriminator: nn.Module) -> nn.Module:
    """The discriminator with spectral normalisation on all its layers."""
    return SpectralNormed(discriminator)


def normalised_kernels(params: dict) -> int:
    """How many kernels (arrays of two or more dimensions) spectral normalisation acts on."""
    return sum(1 for v in flatten_dict(params).values() if np.ndim(v) >= 2)


def require_kernels(params: dict, architecture: str) -> None:
    """One-line error where spectral normalisation would normalise nothing."""
    if normalised_kernels(params) == 0:
        raise ValueError(f"--spectral-norm: architecture {architecture!r} has no discriminator "
                         f"layers to normalise; drop --spectral-norm")
