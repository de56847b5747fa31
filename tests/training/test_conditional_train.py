"""Each conditional and encoder model trains through the public ``train`` (docs/protocol.md
§12): two steps on random images, finite losses, every network updated."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import models
from benchmark.training import Structure, train


@pytest.mark.slow  # one compilation per model: 1-2 min each on the shared 2 cores
@pytest.mark.parametrize("name,options", [("cgan", ()), ("acgan", ()), ("infogan", ()),
                                          ("bigan", ()), ("bigan", (("encoder", "stochastic"),)),
                                          ("bigan", (("d_pass", "joint"),)),
                                          ("bigan", (("d_pass", "joint"),
                                                     ("encoder", "stochastic"))),
                                          ("vaegan", ()), ("ssgan", ())])
def test_model_trains_two_steps(name, options):
    rng = np.random.RandomState(0)
    data = jnp.asarray(rng.randint(0, 256, (32, 28, 28, 1)).astype(np.uint8))
    recipe = models.get(name, dict(options))
    needs_labels = "labels" in recipe.needs
    structure = Structure(name, (28, 28, 1), options=options, batch_size=8,
                          num_classes=10 if needs_labels else None)
    hp = {k: v for k, v in recipe.defaults.items() if k not in ("n_disc", "disc_bn")}
    labels = jnp.asarray(rng.randint(0, 10, 32).astype(np.int32)) if needs_labels else None
    states, logs = train(structure, hp, data, [0], 2, scale=1 / 255, labels=labels)
    assert all(np.isfinite(v).all() for v in logs.values()), logs
    assert int(states.failed_step[0]) == -1
    assert set(jax.tree.leaves(jax.tree.map(lambda x: x.shape[0], states.params))) == {1}
