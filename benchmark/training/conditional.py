"""The conditional family's updates: CGAN, ACGAN, InfoGAN and the semi-supervised GAN
(docs/protocol.md §11.1-§11.4), as pure functions of the networks' variables.

One step is a D update on a real batch (x, y) and fakes G(z, c) of drawn conditions c, then a
G update against the updated D, as the GAN family (docs/protocol.md §4.2). What differs per
model is a :class:`Method`: how its G's inputs are drawn, whether D sees the label, and its
objective (``losses/``). The semi-supervised GAN also takes a labelled batch (its fixed
labelled subset, ``losses.ssgan.labelled_indices``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from losses import acgan as acgan_loss
from losses import cgan as cgan_loss
from losses import infogan as infogan_loss
from losses import ssgan as ssgan_loss
from models import infogan_q
from models.acgan import AuxiliaryClassifierDiscriminator
from models.cgan import ConditionalDiscriminator, ConditionalGenerator
from models.infogan import Generator
from models.ssgan import ClassifierDiscriminator

Objective = Callable[[Mapping, Mapping], jax.Array]


@dataclasses.dataclass(frozen=True)
class Method:
    """What one conditional model changes in the GAN step.

    ``draw(key, n, num_classes, z_dim) -> (G's positional inputs, extra out entries)``; the
    extra entries reach both objectives (the drawn classes ``y_fake``, InfoGAN's ``codes``).
    """

    name: str
    generator: Callable[[tuple[int, int, int], int], nn.Module]
    discriminator: Callable[[bool, int], nn.Module]
    draw: Callable[[jax.Array, int, int, int], tuple[tuple, dict]]
    discriminator_loss: Objective
    generator_loss: Objective
    d_sees_label: bool = False  # D(x, y) (CGAN) or D(x)
    labelled_batch: bool = False  # the semi-supervised GAN's labelled minibatch
    latent_dim: Callable[[int], int] = lambda z_dim: z_dim


def _draw_classes(key, n, num_classes, z_dim):
    k_z, k_y = jax.random.split(key)
    z = jax.random.uniform(k_z, (n, z_dim), minval=-1.0, maxval=1.0)
    y = jax.random.randint(k_y, (n,), 0, num_classes)
    return (z, y), {"y_fake": y}


def _draw_codes(key, n, num_classes, z_dim):
    latent, codes = infogan_q.sample_latent(key, n)
    return (latent,), {"codes": codes}


def _draw_noise(key, n, num_classes, z_dim):
    return (jax.random.uniform(key, (n, z_dim), minval=-1.0, maxval=1.0),), {}


METHODS = {
    "cgan": Method(
        "cgan", lambda shape, k: ConditionalGenerator(shape, k),
        lambda bn, k: ConditionalDiscriminator(bn, k), _draw_classes,
        cgan_loss.discriminator_loss, cgan_loss.generator_loss, d_sees_label=True),
    "acgan": Method(
        "acgan", lambda shape, k: ConditionalGenerator(shape, k),
        lambda bn, k: AuxiliaryClassifierDiscriminator(bn, k), _draw_classes,
        acgan_loss.discriminator_loss, acgan_loss.generator_loss),
    "infogan": Method(
        "infogan", lambda shape, k: Generator(shape), lambda bn, k: infogan_q.InfoDiscriminator(bn),
        _draw_codes, infogan_loss.discriminator_loss, infogan_loss.generator_loss,
        latent_dim=lambda z_dim: infogan_q.LATENT_DIM),
    "ssgan": Method(
        "ssgan", lambda shape, k: Generator(shape), lambda bn, k: ClassifierDiscriminator(bn, k),
        _draw_noise, ssgan_loss.discriminator_loss, ssgan_loss.generator_loss,
        labelled_batch=True),
}


@dataclasses.dataclass(frozen=True)
class Setup:
    """The static shape of a conditional run (hashable)."""

    method: str
    image_shape: tuple[int, int, int]
    num_classes: int = 10
    disc_bn: bool = True
    batch_size: int = 64
    z_dim: int = 64

    @property
    def spec(self) -> Method:
        return METHODS[self.method]

    def networks(self) -> tuple[nn.Module, nn.Module]:
        return (self.spec.generator(self.image_shape, self.num_classes),
                self.spec.discriminator(self.disc_bn, self.num_classes))


def _apply(module, variables_params, stats, *args):
    out, updates = module.apply({"params": variables_params, "batch_stats": stats}, *args,
                                train=True, mutable=["batch_stats"])
    return out, dict(updates.get("batch_stats", {}))


def _d_call(setup: Setup, D, params, stats, images, labels):
    if setup.spec.d_sees_label:
        return _apply(D, params, stats, images, labels)
    return _apply(D, params, stats, images)


def init(setup: Setup, key: jax.Array) -> tuple[dict, dict]:
    """(params, batch_stats), each {"generator", "discriminator"}."""
    G, D = setup.networks()
    k_g, k_d, k_draw = jax.random.split(key, 3)
    g_inputs, _ = setup.spec.draw(k_draw, 2, setup.num_classes, setup.z_dim)
    g_vars = G.init(k_g, *g_inputs, train=False)
    x = jnp.zeros((2, *setup.image_shape))
    d_args = (x, jnp.zeros((2,), jnp.int32)) if setup.spec.d_sees_label else (x,)
    d_vars = D.init(k_d, *d_args, train=False)
    return ({"generator": g_vars["params"], "discriminator": d_vars["params"]},
            {"generator": dict(g_vars.get("batch_stats", {})),
             "discriminator": dict(d_vars.get("batch_stats", {}))})


def init_optimizer(params: dict) -> dict:
    adam_structure = optax.adam(1.0)
    return {name: adam_structure.init(p) for name, p in params.items()}


def step(setup: Setup, params: dict, stats: dict, opt_state: dict, hp: Mapping,
         batch: Mapping[str, jax.Array], key: jax.Array, tx: optax.GradientTransformation,
         update_generator: bool = True) -> tuple[dict, dict, dict, dict[str, Any]]:
    """One D update and (if ``update_generator``) one G update.

    ``batch``: "x" images [B, ...] in [0, 1], "y" labels [B]; the semi-supervised GAN also
    "x_labelled", "y_labelled".
    """
    spec = setup.spec
    G, D = setup.networks()
    g_inputs, extra = spec.draw(key, setup.batch_size, setup.num_classes, setup.z_dim)
    fake, g_stats = _apply(G, params["generator"], stats["generator"], *g_inputs)
    fake = jax.lax.stop_gradient(fake)
    x, y = batch["x"], batch["y"]
    y_fake = extra.get("y_fake")
    d_stats0 = stats["discriminator"]

    def d_objective(dp):
        d_real, s = _d_call(setup, D, dp, d_stats0, x, y)
        d_fake, s = _d_call(setup, D, dp, s, fake, y_fake)
        out = {"d_real": d_real, "d_fake": d_fake, "y_real": y, **extra}
        if spec.labelled_batch:
            out["d_labelled"], s = _d_call(setup, D, dp, s, batch["x_labelled"], None)
            out["y_labelled"] = batch["y_labelled"]
        return spec.discriminator_loss(out, hp), (s, out)

    (d_loss, (d_stats, d_out)), grads = jax.value_and_grad(d_objective, has_aux=True)(
        params["discriminator"])
    updates, d_opt = tx.update(grads, opt_state["discriminator"], params["discriminator"])
    d_params = optax.apply_updates(params["discriminator"], updates)
    logs = {"d_loss": d_loss}

    g_params, g_opt = params["generator"], opt_state["generator"]
    if update_generator:
        def g_objective(gp):
            images, s = _apply(G, gp, g_stats, *g_inputs)
            d_fake, _ = _d_call(setup, D, d_params, d_stats, images, y_fake)
            out = {"d_fake": d_fake, "y_real": y, **extra}
            if spec.labelled_batch:  # feature matching compares with the real batch
                out["d_real"], _ = _d_call(setup, D, d_params, d_stats, x, y)
            return spec.generator_loss(out, hp), s

        (g_loss, g_stats), grads = jax.value_and_grad(g_objective, has_aux=True)(g_params)
        updates, g_opt = tx.update(grads, g_opt, g_params)
        g_params = optax.apply_updates(g_params, updates)
        logs["g_loss"] = g_loss
    if spec.name == "infogan":
        logs["mi_category"] = infogan_loss.category_information(d_out)
    if spec.name == "ssgan":
        logs["train_error"] = jnp.mean(
            jnp.argmax(d_out["d_labelled"]["class_logits"], -1) != batch["y_labelled"])
    return ({"generator": g_params, "discriminator": d_params},
            {"generator": g_stats, "discriminator": d_stats},
            {"generator": g_opt, "discriminator": d_opt}, logs)


def sample(setup: Setup, variables: dict, key: jax.Array, n: int,
           classes: jax.Array | None = None) -> jax.Array:
    """``n`` samples of G in inference mode; ``classes`` [n] are the conditions (CGAN, ACGAN)
    or the categorical code (InfoGAN), drawn when None."""
    G, _ = setup.networks()
    g_inputs, extra = setup.spec.draw(key, n, setup.num_classes, setup.z_dim)
    if classes is not None:
        if setup.method in ("cgan", "acgan"):
            g_inputs = (g_inputs[0], classes)
        elif setup.method == "infogan":
            codes = infogan_q.sample_codes(key, n)
            g_inputs = (infogan_q.latent(codes["noise"], classes, codes["continuous"]),)
    return G.apply(variables, *g_inputs, train=False)
