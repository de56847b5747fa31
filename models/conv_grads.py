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


def _in_place(argnum: int, a, other) -> tuple:
    """``(x, k)`` with ``a`` as operand ``argnum`` (0: x, 1: k) and ``other`` as the other."""
    return (a, other) if argnum == 0 else (other, a)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _conv(config, x, k):
    return _plain(config, x, k)


def _conv_fwd(config, x, k):
    return _plain(config, x, k), (x, k)


def _conv_bwd(config, residuals, dy):
    x, k = residuals
    return _transpose(config, 0, _spec(x), k, dy), _transpose(config, 1, _spec(k), x, dy)


_conv.defvjp(_conv_fwd, _conv_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(0, 1, 2))
def _transpose(config, argnum, spec, other, dy):
    """The transpose of ``conv`` in operand ``argnum`` (0: ``transpose_x(dy, k)``, 1:
    ``transpose_k(x, dy)``; the module docstring), ``other`` the operand held, applied to
    ``dy``: JAX's own first-order form."""
    return jax.linear_transpose(lambda a: _plain(config, *_in_place(argnum, a, other)),
                                jax.ShapeDtypeStruct(*spec))(dy)[0]


def _transpose_fwd(config, argnum, spec, other, dy):
    return _transpose(config, argnum, spec, other, dy), (other, dy)


def _transpose_bwd(config, argnum, spec, residuals, cot):
    """From ``<transpose(other, dy), cot> = B(x, k, dy)`` with ``cot`` in operand ``argnum``:
    d/d(other) is the other transpose at ``cot``, d/d(dy) is ``conv`` with ``cot`` in place."""
    other, dy = residuals
    return (_transpose(config, 1 - argnum, _spec(other), cot, dy),
            _conv(config, *_in_place(argnum, cot, other)))


_transpose.defvjp(_transpose_fwd, _transpose_bwd)
