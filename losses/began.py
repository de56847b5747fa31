"""BEGAN (docs/protocol.md §2.6). D is an autoencoder; its output here is L per example.

L(x) = mean |AE(x) - x|. D minimises L(x) - k L(G(z)); G minimises L(G(z)). After every step
k <- k + lambda_k (gamma L(x) - L(G(z))), k starting at 0 and not clipped (v1 code); the BEGAN
paper's clipping to [0, 1] is the option ``clip_k=yes``. The convergence measure
M = L(x) + |gamma L(x) - L(G(z))| is logged, from the same L values as the k update.

Which L values update k (docs/protocol.md §9.2): ``k_update=after`` (default, compare_gan v1's
``after_training_step_hook``) recomputes L(x) and L(G(z)) on the step's minibatch and z with
the D and G of after the step's updates, in training mode (so G's and D's batch-norm
averages are updated once more); ``k_update=before`` reuses the L values of the step's D
pass (before the D update, with the G of before the step), which saves that pass.
"""

from __future__ import annotations

import jax.numpy as jnp

from losses.base import Objective, Outputs


def discriminator_loss(out: Outputs, hp, extra):
    return jnp.mean(out.d_real) - extra["k"] * jnp.mean(out.d_fake)


def generator_loss(out: Outputs, hp, extra):
    return jnp.mean(out.d_fake)


def init_extra() -> dict:
    return {"k": jnp.zeros((), jnp.float32)}


def _update_k(extra, out: Outputs, hp, clip: bool) -> dict:
    k = extra["k"] + hp["lambda_k"] * (hp["gamma"] * jnp.mean(out.d_real) - jnp.mean(out.d_fake))
    return {"k": jnp.clip(k, 0.0, 1.0) if clip else k}


def log_metrics(extra, out: Outputs, hp) -> dict:
    l_real, l_fake = jnp.mean(out.d_real), jnp.mean(out.d_fake)
    return {"k": extra["k"], "convergence": l_real + jnp.abs(hp["gamma"] * l_real - l_fake)}


def make(clip_k: str = "no", k_update: str = "after") -> Objective:
    clip = clip_k == "yes"
    return Objective(
        discriminator_loss,
        generator_loss,
        init_extra=init_extra,
        update_extra=lambda e, out, hp: _update_k(e, out, hp, clip),
        update_extra_after_step=k_update == "after",
        log_metrics=log_metrics,
    )


OBJECTIVE = make()
