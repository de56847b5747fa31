"""Inception-v3, FID variant, in Flax: pool_3 features (2048) and logits (1008).

docs/protocol.md §7.1: the 2015-12-05 TensorFlow Inception graph as pytorch-fid reproduces it.
The FID blocks differ from torchvision's Inception-v3: average pools in Mixed_5*, 6b-6e
and 7b exclude the padding from the count (TensorFlow's pooling), and Mixed_7c pools its
fourth branch with a max instead of an average. Layer names follow the PyTorch state dict,
so ``params_from_state_dict`` maps the published weights one to one. Each conv's batch
norm (eps 1e-3, inference statistics) is folded into the conv's kernel and bias. Inputs
are NHWC float32, already preprocessed (see ``metrics.preprocess``).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

BN_EPS = 1e-3
FEATURE_DIM = 2048
NUM_CLASSES = 1008

Pad = tuple[tuple[int, int], tuple[int, int]]


def _pad(p: int | tuple[int, int]) -> Pad:
    ph, pw = (p, p) if isinstance(p, int) else p
    return ((ph, ph), (pw, pw))


class BasicConv(nn.Module):
    """Conv (no bias) + batch norm + ReLU, with the batch norm folded into kernel and bias."""

    features: int
    kernel: tuple[int, int]
    stride: int = 1
    padding: int | tuple[int, int] = 0
    precision: lax.Precision = lax.Precision.HIGHEST

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        conv = nn.Conv(
            self.features,
            self.kernel,
            strides=self.stride,
            padding=_pad(self.padding),
            use_bias=True,
            precision=self.precision,
            name="conv",
        )
        return nn.relu(conv(x))


def _avg_pool_exclude_pad(x: jax.Array) -> jax.Array:
    """3x3, stride 1, padding 1 average that ignores the padding (TensorFlow's SAME pool)."""
    window, strides, pad = (1, 3, 3, 1), (1, 1, 1, 1), ((0, 0), (1, 1), (1, 1), (0, 0))
    total = lax.reduce_window(x, 0.0, lax.add, window, strides, pad)
    ones = jnp.ones((1, x.shape[1], x.shape[2], 1), x.dtype)
    count = lax.reduce_window(ones, 0.0, lax.add, window, strides, pad)
    return total / count


def _max_pool(x: jax.Array, stride: int, padding: int) -> jax.Array:
    pad = ((0, 0), (padding, padding), (padding, padding), (0, 0))
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, 3, 3, 1), (1, stride, stride, 1), pad)


class FIDInceptionA(nn.Module):
    pool_features: int
    precision: lax.Precision = lax.Precision.HIGHEST

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        c = lambda f, k, p=0, name=None: BasicConv(f, k, 1, p, self.precision, name=name)
        b1 = c(64, (1, 1), name="branch1x1")(x)
        b5 = c(48, (1, 1), name="branch5x5_1")(x)
        b5 = c(64, (5, 5), 2, name="branch5x5_2")(b5)
        b3 = c(64, (1, 1), name="branch3x3dbl_1")(x)
        b3 = c(96, (3, 3), 1, name="branch3x3dbl_2")(b3)
        b3 = c(96, (3, 3), 1, name="branch3x3dbl_3")(b3)
        bp = c(self.pool_features, (1, 1), name="branch_pool")(_avg_pool_exclude_pad(x))
        return jnp.concatenate([b1, b5, b3, bp], axis=-1)


class InceptionB(nn.Module):
    precision: lax.Precision = lax.Precision.HIGHEST

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        c = lambda f, k, s=1, p=0, name=None: BasicConv(f, k, s, p, self.precision, name=name)
        b3 = c(384, (3, 3), 2, name="branch3x3")(x)
        bd = c(64, (1, 1), name="branch3x3dbl_1")(x)
        bd = c(96, (3, 3), 1, 1, name="branch3x3dbl_2")(bd)
        bd = c(96, (3, 3), 2, name="branch3x3dbl_3")(bd)
        return jnp.concatenate([b3, bd, _max_pool(x, 2, 0)], axis=-1)


class FIDInceptionC(nn.Module):
    channels_7x7: int
    precision: lax.Precision = lax.Precision.HIGHEST

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        c = lambda f, k, p=0, name=None: BasicConv(f, k, 1, p, self.precision, name=name)
        c7 = self.channels_7x7
        b1 = c(192, (1, 1), name="branch1x1")(x)
        b7 = c(c7, (1, 1), name="branch7x7_1")(x)
        b7 = c(c7, (1, 7), (0, 3), name="branch7x7_2")(b7)
        b7 = c(192, (7, 1), (3, 0), name="branch7x7_3")(b7)
        bd = c(c7, (1, 1), name="branch7x7dbl_1")(x)
        bd = c(c7, (7, 1), (3, 0), name="branch7x7dbl_2")(bd)
        bd = c(c7, (1, 7), (0, 3), name="branch7x7dbl_3")(bd)
        bd = c(c7, (7, 1), (3, 0), name="branch7x7dbl_4")(bd)
        bd = c(192, (1, 7), (0, 3), name="branch7x7dbl_5")(bd)
        bp = c(192, (1, 1), name="branch_pool")(_avg_pool_exclude_pad(x))
        return jnp.concatenate([b1, b7, bd, bp], axis=-1)


class InceptionD(nn.Module):
    precision: lax.Precision = lax.Precision.HIGHEST

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        c = lambda f, k, s=1, p=0, name=None: BasicConv(f, k, s, p, self.precision, name=name)
        b3 = c(192, (1, 1), name="branch3x3_1")(x)
        b3 = c(320, (3, 3), 2, name="branch3x3_2")(b3)
        b7 = c(192, (1, 1), name="branch7x7x3_1")(x)
        b7 = c(192, (1, 7), 1, (0, 3), name="branch7x7x3_2")(b7)
        b7 = c(192, (7, 1), 1, (3, 0), name="branch7x7x3_3")(b7)
        b7 = c(192, (3, 3), 2, name="branch7x7x3_4")(b7)
        return jnp.concatenate([b3, b7, _max_pool(x, 2, 0)], axis=-1)


class FIDInceptionE(nn.Module):
    """Mixed_7b (average pool, padding excluded) and Mixed_7c (``max_pool=True``)."""

    max_pool: bool
    precision: lax.Precision = lax.Precision.HIGHEST

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        c = lambda f, k, p=0, name=None: BasicConv(f, k, 1, p, self.precision, name=name)
        b1 = c(320, (1, 1), name="branch1x1")(x)
        b3 = c(384, (1, 1), name="branch3x3_1")(x)
        b3 = jnp.concatenate(
            [c(384, (1, 3), (0, 1), name="branch3x3_2a")(b3),
             c(384, (3, 1), (1, 0), name="branch3x3_2b")(b3)],
            axis=-1,
        )  # fmt: skip
        bd = c(448, (1, 1), name="branch3x3dbl_1")(x)
        bd = c(384, (3, 3), 1, name="branch3x3dbl_2")(bd)
        bd = jnp.concatenate(
            [c(384, (1, 3), (0, 1), name="branch3x3dbl_3a")(bd),
             c(384, (3, 1), (1, 0), name="branch3x3dbl_3b")(bd)],
            axis=-1,
        )  # fmt: skip
        pooled = _max_pool(x, 1, 1) if self.max_pool else _avg_pool_exclude_pad(x)
        bp = c(192, (1, 1), name="branch_pool")(pooled)
        return jnp.concatenate([b1, b3, bd, bp], axis=-1)


class FIDInceptionV3(nn.Module):
    """Returns ``(pool_3 [N, 2048], logits [N, 1008])`` for NHWC inputs in [-1, 1]."""

    precision: lax.Precision = lax.Precision.HIGHEST

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        p = self.precision
        x = BasicConv(32, (3, 3), 2, 0, p, name="Conv2d_1a_3x3")(x)
        x = BasicConv(32, (3, 3), 1, 0, p, name="Conv2d_2a_3x3")(x)
        x = BasicConv(64, (3, 3), 1, 1, p, name="Conv2d_2b_3x3")(x)
        x = _max_pool(x, 2, 0)
        x = BasicConv(80, (1, 1), 1, 0, p, name="Conv2d_3b_1x1")(x)
        x = BasicConv(192, (3, 3), 1, 0, p, name="Conv2d_4a_3x3")(x)
        x = _max_pool(x, 2, 0)
        x = FIDInceptionA(32, p, name="Mixed_5b")(x)
        x = FIDInceptionA(64, p, name="Mixed_5c")(x)
        x = FIDInceptionA(64, p, name="Mixed_5d")(x)
        x = InceptionB(p, name="Mixed_6a")(x)
        x = FIDInceptionC(128, p, name="Mixed_6b")(x)
        x = FIDInceptionC(160, p, name="Mixed_6c")(x)
        x = FIDInceptionC(160, p, name="Mixed_6d")(x)
        x = FIDInceptionC(192, p, name="Mixed_6e")(x)
        x = InceptionD(p, name="Mixed_7a")(x)
        x = FIDInceptionE(False, p, name="Mixed_7b")(x)
        x = FIDInceptionE(True, p, name="Mixed_7c")(x)
        pool = jnp.mean(x, axis=(1, 2))
        logits = nn.Dense(NUM_CLASSES, precision=p, name="fc")(pool)
        return pool, logits


def params_from_state_dict(state: dict[str, np.ndarray]) -> dict:
    """Flax params from the pytorch-fid state dict: OIHW -> HWIO, batch norm folded in.

    Folding: y = gamma * (conv(x) - mean) / sqrt(var + eps) + beta, so the kernel is
    scaled by gamma / sqrt(var + eps) per output channel and the bias is
    beta - mean * gamma / sqrt(var + eps). Computed in float64, stored in float32.
    """
    params: dict = {}
    convs = sorted({k[: -len(".conv.weight")] for k in state if k.endswith(".conv.weight")})
    if not convs or "fc.weight" not in state:
        raise ValueError("weights are not an Inception-v3 state dict (no conv or fc layers)")
    try:
        for name in convs:
            w = state[f"{name}.conv.weight"].astype(np.float64)
            gamma = state[f"{name}.bn.weight"].astype(np.float64)
            beta = state[f"{name}.bn.bias"].astype(np.float64)
            mean = state[f"{name}.bn.running_mean"].astype(np.float64)
            var = state[f"{name}.bn.running_var"].astype(np.float64)
            scale = gamma / np.sqrt(var + BN_EPS)
            kernel = np.transpose(w, (2, 3, 1, 0)) * scale
            node = params
            for part in name.split("."):
                node = node.setdefault(part, {})
            node["conv"] = {
                "kernel": kernel.astype(np.float32),
                "bias": (beta - mean * scale).astype(np.float32),
            }
        params["fc"] = {
            "kernel": state["fc.weight"].T.astype(np.float32),
            "bias": state["fc.bias"].astype(np.float32),
        }
    except KeyError as exc:
        raise ValueError(f"Inception state dict lacks {exc}; use the pytorch-fid weights") from None
    return {"params": params}


def check_params(variables: dict, precision: lax.Precision = lax.Precision.HIGHEST) -> None:
    """Raise a one-line ValueError unless ``variables`` fit the FID Inception architecture."""
    expected = jax.eval_shape(
        FIDInceptionV3(precision).init, jax.random.key(0), jnp.zeros((1, 299, 299, 3))
    )
    got = jax.tree.map(lambda a: tuple(a.shape), variables)
    want = jax.tree.map(lambda a: tuple(a.shape), expected)
    if got != want:
        raise ValueError("Inception weights do not match the FID Inception-v3 architecture")


def apply(
    variables: dict, images: jax.Array, precision: lax.Precision = lax.Precision.HIGHEST
) -> tuple[jax.Array, jax.Array]:
    """pool_3 features and logits of preprocessed NHWC images (see ``metrics.preprocess``)."""
    return FIDInceptionV3(precision).apply(variables, images)
