"""GRAN (docs/protocol.md §13.4): hand-counted sizes with weights shared by the steps, the
canvas as the running sum of the steps' drawings, and the sample as the last canvas."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from models.architectures.dcgan import DcganDiscriminator
from models.architectures.gran import GranGenerator, canvases

KEY = jax.random.PRNGKey(0)
DIM = 12


def count(tree) -> int:
    return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree))


def hand_count(steps: int) -> int:
    """28x28x1, width 8: s = 7, n = 2, channels [16, 8]."""
    f = (
        DIM * DIM + DIM                 # h_z dense
        + 2 * DIM                       # h_z's BN
        + 2 * DIM * 16 * 49 + 16 * 49   # f_in: [h_z, h_c] -> 7x7x16
        + 16 * 16 * 8 + 8               # f_deconv0: 4x4, 16 -> 8
        + 16 * 8 * 1 + 1                # f_out: 4x4, 8 -> 1
    )
    g = (
        16 * 1 * 8 + 8                  # g conv 28 -> 14, 1 -> 8
        + 16 * 8 * 16 + 16              # g conv 14 -> 7, 8 -> 16
        + 7 * 7 * 16 * DIM + DIM        # g_out dense
    )  # g only exists where a later step reads it (T > 1)
    shared = f + (g if steps > 1 else 0)
    per_step_f = 2 * 16 * 49                  # f's BN, every step
    per_step_g = 2 * 8 + 2 * 16 + 2 * DIM     # g's BNs, every step but the last
    return shared + steps * per_step_f + (steps - 1) * per_step_g


@pytest.mark.parametrize("steps", [1, 3, 5])
def test_parameter_count_grows_only_by_the_per_step_batch_norms(steps):
    G = GranGenerator((28, 28, 1), steps=steps, width=8)
    variables = jax.eval_shape(lambda: G.init(KEY, jnp.zeros((2, DIM)), train=False))
    assert count(variables["params"]) == hand_count(steps)


def test_canvas_is_the_running_sum_and_the_sample_its_last_state():
    G = GranGenerator((28, 28, 1), steps=3, width=8)
    z = jax.random.normal(KEY, (4, DIM))
    variables = G.init(KEY, z, train=True)
    strip = canvases(G, variables, z)
    sample = G.apply(variables, z, train=False)
    assert len(strip) == 3 and all(c.shape == (4, 28, 28, 1) for c in strip)
    np.testing.assert_allclose(np.asarray(strip[-1]), np.asarray(sample), atol=1e-6)
    logits = [np.log(np.asarray(c, np.float64)) - np.log1p(-np.asarray(c, np.float64))
              for c in strip]
    # Each step adds its own drawing: the canvases differ, and no step is the identity.
    assert all(np.abs(b - a).max() > 1e-4 for a, b in zip(logits, logits[1:], strict=False))
    assert float(sample.min()) >= 0.0 and float(sample.max()) <= 1.0


def test_training_mode_updates_batch_norm_and_d_is_dcgans():
    shape = (32, 32, 3)
    G = GranGenerator(shape, steps=2, width=8)
    z = jax.random.normal(KEY, (4, DIM))
    variables = G.init(KEY, z, train=True)
    images, updates = G.apply(variables, z, train=True, mutable=["batch_stats"])
    assert images.shape == (4, *shape)
    D = DcganDiscriminator(shape, width=8)
    d_vars = D.init(KEY, images, train=True)
    assert D.apply(d_vars, images, train=False).shape == (4,)


def test_zero_steps_is_a_one_line_error():
    with pytest.raises(ValueError, match="at least one drawing step") as info:
        GranGenerator((28, 28, 1), steps=0).init(KEY, jnp.zeros((1, DIM)), train=False)
    assert "\n" not in str(info.value)
