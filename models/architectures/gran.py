"""GRAN: a generator that draws on a canvas in T steps (Im, Kim, Jiang & Memisevic 2016,
"Generating images with recurrent adversarial networks"; docs/protocol.md §13.4), as the
authors' jiwoongim/GRAN ``recGenI28.py`` / ``recGenI32.py`` build it.

h_z = tanh(BN(W z)) once per sample; at step t = 1..T the decoder f maps [h_z, h_c,t] to a
canvas update dC_t, and the encoder g encodes that update into the next step's
h_c,t+1 = g(dC_t) (h_c,1 = 0; the authors' ``apply_recurrence`` encodes the previous step's
output, which the paper calls the previous canvas). The image is sigmoid(sum_t dC_t).

- f: dense -> BN -> ReLU -> reshape [s, s, C] -> (n - 1) x (4x4 stride-2 deconv, channels
  halved, ReLU) -> 4x4 stride-2 deconv to the image's channels (linear), C = width 2^(n-1),
  s and n as DCGAN's (7 and 2 for 28x28, 4 and 3 for 32x32).
- g: n x (4x4 stride-2 conv -> BN -> ReLU), f's channels in reverse (width ... C), -> flatten
  -> dense -> BN -> tanh, to h_z's size (z's).

f's and g's weights are shared by the steps (the recurrence); their batch norms are one per
step, because each step's activations have their own statistics and so that every batch
norm is updated once per G pass as in every other G. D is DCGAN's (``models.architectures.dcgan``).

Initialisation (docs/protocol.md §13.4): the authors', in G and D alike. Dense kernels are
Glorot-uniform, U(-sqrt(6 / (fan_in + fan_out)), +sqrt(...)) (their ``utils.initialize_weight``
with ``'uniform'``, as ``Batch_Norm_layer`` and the D's ``convnet32`` call it); conv and deconv
kernels are N(0, 0.01) (their ``utils.init_conv_weights``, called by ``Conv_layer``,
``BN_Conv_layer`` and ``Deconv_layer`` without ``rng_dist``, so its default ``'normal'``:
``0.01 * normal``; the uniform bound those layers compute is not used). Biases 0.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from models.architectures.dcgan import DcganDiscriminator, pyramid_plan, unsupported_side
from models.layers import Deconv, batch_norm, conv, flatten
from models.registry import Architecture, NetFacts, register_architecture, scaled

STEPS = 3  # the authors' main_granI_cifar10.py num_steps; the paper also shows T = 5 on LSUN
WIDTH = 128
# The authors' initialisers (module docstring; docs/protocol.md §13.4).
CONV_STD = 0.01  # utils.init_conv_weights, rng_dist 'normal': 0.01 * N(0, 1)
dense_init = nn.initializers.glorot_uniform()  # utils.initialize_weight 'uniform'
conv_init = nn.initializers.normal(stddev=CONV_STD)


class GranGenerator(nn.Module):
    """Latents [B, z] -> images [B, h, w, c] in [0, 1]; with ``steps_out=True`` the canvas
    after every step instead (a list of T images, the last one the sample)."""

    image_shape: tuple[int, int, int]
    steps: int = STEPS
    width: int = WIDTH

    @nn.compact
    def __call__(self, z: jax.Array, train: bool, steps_out: bool = False):
        if self.steps < 1:
            raise ValueError(f"GRAN needs at least one drawing step; got {self.steps}")
        base, n = pyramid_plan(self.image_shape)
        channels = [self.width * 2 ** (n - 1 - i) for i in range(n)]  # C, C/2, ..., width
        dim = z.shape[-1]
        # Shared by the steps: f's and g's layers. One batch norm per step (module docstring).
        # The authors' initialisers (§13.4): Glorot-uniform dense, N(0, 0.01) (de)convs.
        f_in = nn.Dense(channels[0] * base * base, kernel_init=dense_init, name="f_in")
        f_deconvs = [Deconv(ch, kernel_init=conv_init, name=f"f_deconv{i}")
                     for i, ch in enumerate(channels[1:])]
        f_out = Deconv(self.image_shape[2], kernel_init=conv_init, name="f_out")
        g_convs = [conv(ch, conv_init) for ch in channels[::-1]]  # side -> s, as f reversed
        g_out = nn.Dense(dim, kernel_init=dense_init, name="g_out")

        h_z = jnp.tanh(batch_norm(train)(
            nn.Dense(dim, kernel_init=dense_init, name="h_z")(z)))
        h_c = jnp.zeros_like(h_z)
        total = None
        canvases = []
        for t in range(self.steps):
            x = nn.relu(batch_norm(train)(f_in(jnp.concatenate([h_z, h_c], axis=-1))))
            x = jnp.reshape(x, (z.shape[0], base, base, channels[0]))
            for deconv in f_deconvs:
                x = nn.relu(deconv(x))
            delta = f_out(x)
            total = delta if total is None else total + delta
            canvases.append(total)
            if t + 1 < self.steps:  # encode this step's drawing for the next step
                e = delta
                for conv_layer in g_convs:
                    e = nn.relu(batch_norm(train)(conv_layer(e)))
                h_c = jnp.tanh(batch_norm(train)(g_out(flatten(e))))
        if steps_out:
            return [nn.sigmoid(c) for c in canvases]
        return nn.sigmoid(total)


def canvases(generator: GranGenerator, variables, z: jax.Array) -> list[jax.Array]:
    """The canvas after each step, in inference mode: T images [B, h, w, c] in [0, 1]."""
    return generator.apply(variables, z, train=False, steps_out=True)


def drawing_steps(facts: NetFacts) -> int:
    """T: the run's static option ``steps`` where its model has one (the ``gran`` model), else
    the authors' 3."""
    return int(dict(getattr(facts, "options", ()) or ()).get("steps", STEPS))


@register_architecture("gran")
class Gran(Architecture):
    """GRAN's recurrent G and DCGAN's D (docs/protocol.md §13.4), both with the authors'
    initialisers."""

    def generator(self, facts: NetFacts) -> nn.Module:
        return GranGenerator(tuple(facts.image_shape), steps=drawing_steps(facts),
                             width=scaled(WIDTH, facts))

    def discriminator(self, facts: NetFacts) -> nn.Module:
        return DcganDiscriminator(tuple(facts.image_shape), width=scaled(WIDTH, facts),
                                  use_batch_norm=facts.disc_bn, conv_init=conv_init,
                                  dense_init=dense_init)

    def unsupported(self, image_shape: tuple[int, int, int]) -> str | None:
        return unsupported_side(image_shape)
