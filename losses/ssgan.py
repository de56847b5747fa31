"""Semi-supervised GAN objective (Salimans et al. 2016, §3.1 and §5; Odena 2016;
docs/protocol.md §12.4).

D is a K-class classifier with logits l; its "real" logit is lse(l) = log Z, Z = sum exp l, so
D(x) = Z / (Z + 1). D minimises L_sup + w L_unsup with
L_sup   = E_(x,y) labelled CE(l(x), y),
L_unsup = -E_x log(Z(x) / (Z(x) + 1)) - E_z log(1 / (Z(G(z)) + 1))
        = E_x [softplus(lse l(x)) - lse l(x)] + E_z softplus(lse l(G(z))).
The authors' ``train_mnist_feature_matching.py`` halves L_unsup (``loss_unl = 0.5 * ...``) and
weighs it by ``unlabeled_weight = 1``: our w defaults to 0.5. G minimises feature matching,
the mean over features of (mean_batch f(x) - mean_batch f(G(z)))^2 on D's last hidden layer
(``loss_gen`` there).

:class:`losses.base.Outputs` as the ``semi_supervised`` family fills it: ``d_real``/``d_fake``
are lse of the class logits (D's main output), ``aux_real``/``aux_fake`` its heads
("class_logits", "features"); ``aux_real`` also holds the labelled batch's class logits
("labelled_class_logits") and labels ("labelled_y").
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from losses.base import Objective, Outputs

LABELS_PER_CLASS = 10  # 100 labels on MNIST (the paper's Table 1)


def supervised_loss(out: Outputs) -> jax.Array:
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(
        out.aux_real["labelled_class_logits"], out.aux_real["labelled_y"]))


def unsupervised_loss(real_logit: jax.Array, fake_logit: jax.Array) -> jax.Array:
    """The closed form in the real logits lse(l): E softplus(lse_real) - E lse_real +
    E softplus(lse_fake)."""
    return (jnp.mean(jax.nn.softplus(real_logit) - real_logit)
            + jnp.mean(jax.nn.softplus(fake_logit)))


def discriminator_loss(out: Outputs, hp, extra) -> jax.Array:
    return supervised_loss(out) + hp["unsupervised_weight"] * unsupervised_loss(out.d_real,
                                                                              out.d_fake)


def generator_loss(out: Outputs, hp, extra) -> jax.Array:
    """Feature matching on D's last hidden layer."""
    real = jnp.mean(out.aux_real["features"], axis=0)
    fake = jnp.mean(out.aux_fake["features"], axis=0)
    return jnp.mean((real - fake) ** 2)


def log_metrics(extra, out: Outputs, hp) -> dict[str, jax.Array]:
    """The labelled batch's classification error."""
    predicted = jnp.argmax(out.aux_real["labelled_class_logits"], axis=-1)
    return {"labelled_error": jnp.mean(predicted != out.aux_real["labelled_y"])}


# G draws its own z, as the authors' G function samples fresh noise at every call.
OBJECTIVE = Objective(discriminator_loss, generator_loss, generator_sees_real=True,
                      fresh_z_for_generator=True, log_metrics=log_metrics)


def labelled_indices(key: jax.Array, labels: jax.Array, num_classes: int,
                     per_class: int = LABELS_PER_CLASS) -> jax.Array:
    """The fixed labelled subset, class-major [num_classes * per_class]: the first
    ``per_class`` indices of each class in a permutation drawn from ``key``, as the authors'
    script selects ``txs, tys`` (docs/protocol.md §12.4); pure, so it runs on the device. A
    class with fewer than ``per_class`` images repeats its last one (none: the subset is
    wrong; the data sets with labels have thousands per class)."""
    order = jax.random.permutation(key, labels.shape[0])
    in_order = jnp.take(labels, order).astype(jnp.int32)
    grouped = jnp.argsort(in_order, stable=True)  # by class, permutation order within one
    counts = jnp.bincount(in_order, length=num_classes)
    starts = jnp.cumsum(counts) - counts
    offsets = jnp.minimum(jnp.arange(per_class)[None, :], jnp.maximum(counts - 1, 0)[:, None])
    return jnp.take(order, jnp.take(grouped, starts[:, None] + offsets)).reshape(-1)
