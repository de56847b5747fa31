"""InfoGAN's latent codes and its D with a Q head (Chen et al. 2016; docs/protocol.md §11.3).

The MNIST setup of the paper (§7 and the authors' ``launchers/run_mnist_exp.py``,
``latent_spec``): G's input is 62 noise dimensions U(-1, 1), a categorical code Cat(10) as a
one-hot, and two continuous codes U(-1, 1): 74 dimensions, fed to the study's generator
unchanged but for its input width. Q shares D's trunk (the authors' ``regularized_gan.py``,
``RegularizedGAN.__init__``: ``shared_template`` then ``encoder_template`` = fc128 -> BN ->
lrelu -> fc(10 + 2)); Q gives the categorical logits and the continuous codes' means, whose
standard deviation is fixed at 1 (``Uniform(1, fix_std=True)``).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from models.infogan import DiscriminatorTrunk
from models.joins import one_hot
from models.layers import dense, lrelu, maybe_bn

NOISE_DIM = 62
CATEGORIES = 10
CONTINUOUS = 2
LATENT_DIM = NOISE_DIM + CATEGORIES + CONTINUOUS  # 74


def latent(noise: jax.Array, category: jax.Array, continuous: jax.Array) -> jax.Array:
    """G's input [B, 74] from noise [B, 62], category [B] (ints) and continuous [B, 2]."""
    return jnp.concatenate([noise, one_hot(category, CATEGORIES, noise.dtype), continuous], -1)


def sample_codes(key: jax.Array, n: int) -> dict[str, jax.Array]:
    """``n`` draws of the prior: {"noise" [n, 62], "category" [n], "continuous" [n, 2]}."""
    k_noise, k_cat, k_cont = jax.random.split(key, 3)
    return {
        "noise": jax.random.uniform(k_noise, (n, NOISE_DIM), minval=-1.0, maxval=1.0),
        "category": jax.random.randint(k_cat, (n,), 0, CATEGORIES),
        "continuous": jax.random.uniform(k_cont, (n, CONTINUOUS), minval=-1.0, maxval=1.0),
    }


def sample_latent(key: jax.Array, n: int) -> tuple[jax.Array, dict[str, jax.Array]]:
    """G's input [n, 74] and the codes it holds."""
    codes = sample_codes(key, n)
    return latent(codes["noise"], codes["category"], codes["continuous"]), codes


class InfoDiscriminator(nn.Module):
    """Images -> {"logit" [B], "category_logits" [B, 10], "continuous_mean" [B, 2]}.

    Q's batch norm follows D's (``use_batch_norm``); the authors' Q always has it.
    """

    use_batch_norm: bool

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> dict[str, jax.Array]:
        h = DiscriminatorTrunk(self.use_batch_norm, name="trunk")(x, train)
        logit = dense(1)(h)[:, 0]
        q = lrelu(maybe_bn(dense(128)(h), self.use_batch_norm, train))
        q = dense(CATEGORIES + CONTINUOUS)(q)
        return {"logit": logit, "category_logits": q[:, :CATEGORIES],
                "continuous_mean": q[:, CATEGORIES:]}
