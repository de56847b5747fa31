"""A convolution whose derivatives of every order are convolutions (docs/protocol.md §3.1).

``conv_general_dilated`` computes exactly ``jax.lax.conv_general_dilated``, and its first
derivatives are JAX's own (the same two transposed convolutions, bitwise). What differs is the
derivative of a derivative, which a gradient penalty takes (WGAN-GP, DRAGAN: the penalty on
D's input gradient is differentiated with respect to D's weights). JAX differentiates the
transposed convolution of a strided convolution (an input-dilated convolution) into a
convolution that XLA's CPU backend runs many times slower than the forward one (a 4x4,
stride-2, 64 -> 128 layer at 14x14: about 30 times; docs/speed.md). Here the two transposes
are functions with their own rules, taken from the one trilinear form
``B(x, k, dy) = <conv(x, k), dy>``:

- ``conv(x, k)``: d/dx is ``transpose_x(dy, k)``, d/dk is ``transpose_k(x, dy)``;
- ``transpose_x(dy, k)`` (``<transpose_x(dy, k), v> = B(v, k, dy)``): d/d(dy) is
  ``conv(v, k)``, d/dk is ``transpose_k(v, dy)``;
- ``transpose_k(x, dy)`` (``<transpose_k(x, dy), w> = B(x, w, dy)``): d/dx is
  ``transpose_x(dy, w)``, d/d(dy) is ``conv(x, w)``;

so every order is made of the forward convolution and its two first-order transposes, the
forms XLA runs fast. The three are linear in each argument, so these rules are exact; only the
order of the float sums of a second derivative changes.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jax
from jax import lax


def conv_general_dilated(lhs, rhs, window_strides: Sequence[int], padding,
                         lhs_dilation=None, rhs_dilation=None, dimension_numbers=None,
                         feature_group_count: int = 1, batch_group_count: int = 1,
                         precision=None, preferred_element_type=None) -> jax.Array:
    """``jax.lax.conv_general_dilated`` (same arguments, same value, same first derivatives)
    with second derivatives made of convolutions (module docstring); ``flax.linen.Conv`` takes
    it as ``conv_general_dilated``."""
    config = (
        ("window_strides", tuple(window_strides)),
        ("padding", padding if isinstance(padding, str) else tuple(map(tuple, padding))),
        ("lhs_dilation", None if lhs_dilation is None else tuple(lhs_dilation)),
        ("rhs_dilation", None if rhs_dilation is None else tuple(rhs_dilation)),
        ("dimension_numbers", dimension_numbers),
        ("feature_group_count", feature_group_count),
        ("batch_group_count", batch_group_count),
        ("precision", precision),
        ("preferred_element_type", preferred_element_type),
    )
    return _conv(config, lhs, rhs)


def _plain(config, x, k):
    return lax.conv_general_dilated(x, k, **dict(config))


def _spec(a) -> tuple:
    return a.shape, a.dtype


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _conv(config, x, k):
    return _plain(config, x, k)


def _conv_fwd(config, x, k):
    return _plain(config, x, k), (x, k)


def _conv_bwd(config, residuals, dy):
    x, k = residuals
    return _transpose_x(config, _spec(x), dy, k), _transpose_k(config, _spec(k), x, dy)


_conv.defvjp(_conv_fwd, _conv_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def _transpose_x(config, x_spec, dy, k):
    """The transpose of ``x -> conv(x, k)`` applied to ``dy`` (x's cotangent), as JAX's."""
    return jax.linear_transpose(lambda x: _plain(config, x, k),
                                jax.ShapeDtypeStruct(*x_spec))(dy)[0]


def _transpose_x_fwd(config, x_spec, dy, k):
    return _transpose_x(config, x_spec, dy, k), (dy, k)


def _transpose_x_bwd(config, x_spec, residuals, v):
    dy, k = residuals
    return _conv(config, v, k), _transpose_k(config, _spec(k), v, dy)


_transpose_x.defvjp(_transpose_x_fwd, _transpose_x_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1))
def _transpose_k(config, k_spec, x, dy):
    """The transpose of ``k -> conv(x, k)`` applied to ``dy`` (k's cotangent), as JAX's."""
    return jax.linear_transpose(lambda k: _plain(config, x, k),
                                jax.ShapeDtypeStruct(*k_spec))(dy)[0]


def _transpose_k_fwd(config, k_spec, x, dy):
    return _transpose_k(config, k_spec, x, dy), (x, dy)


def _transpose_k_bwd(config, k_spec, residuals, w):
    x, dy = residuals
    return _transpose_x(config, _spec(x), dy, w), _conv(config, x, w)


_transpose_k.defvjp(_transpose_k_fwd, _transpose_k_bwd)
