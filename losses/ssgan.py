"""Semi-supervised GAN objective (Salimans et al. 2016, §3.1 and §5; Odena 2016;
docs/protocol.md §11.4).

D is a K-class classifier with logits l; its "real" logit is lse(l) = log Z, Z = sum exp l, so
D(x) = Z / (Z + 1). D minimises L_sup + w L_unsup with
L_sup   = E_(x,y) labelled CE(l(x), y),
L_unsup = -E_x log(Z(x) / (Z(x) + 1)) - E_z log(1 / (Z(G(z)) + 1))
        = E_x [softplus(lse l(x)) - lse l(x)] + E_z softplus(lse l(G(z))).
The authors' ``train_mnist_feature_matching.py`` halves L_unsup (``loss_unl = 0.5 * ...``) and
weighs it by ``unlabeled_weight = 1``: our w defaults to 0.5. G minimises feature matching,
the mean over features of (mean_batch f(x) - mean_batch f(G(z)))^2 on D's last hidden layer
(``loss_gen`` there).

``out``: ``d_labelled`` = D's outputs {"class_logits", "features"} on the labelled batch with
labels ``y_labelled``; ``d_real`` on an unlabelled real batch; ``d_fake`` on G(z).
"""

from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np
import optax

from losses.base import HParam, LogUniform

UNSUPERVISED_WEIGHT = HParam(
    "unsupervised_weight", 0.5, wide=LogUniform(-2, 1), narrow=LogUniform(-1, 0), low=0.0,
    help="weight w of the unsupervised GAN loss beside the supervised cross-entropy",
)
HPARAMS = (UNSUPERVISED_WEIGHT,)
# The authors' Adam: lr 0.003, beta1 0.5; their D has weight norm, no batch norm, and batch
# norm would make the batch means that feature matching compares trivially equal.
DEFAULTS = {"lr": 3e-3, "beta1": 0.5, "n_disc": 1, "disc_bn": False, "unsupervised_weight": 0.5}
LABELS_PER_CLASS = 10  # 100 labels on MNIST (the paper's Table 1)


def real_logit(class_logits: jax.Array) -> jax.Array:
    """log Z = log-sum-exp of the class logits: D's "real" logit."""
    return jax.nn.logsumexp(class_logits, axis=-1)


def supervised_loss(out: Mapping) -> jax.Array:
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(
        out["d_labelled"]["class_logits"], out["y_labelled"]))


def unsupervised_loss(out: Mapping) -> jax.Array:
    """The closed form: E softplus(lse_real) - E lse_real + E softplus(lse_fake)."""
    lse_real = real_logit(out["d_real"]["class_logits"])
    lse_fake = real_logit(out["d_fake"]["class_logits"])
    return (jnp.mean(jax.nn.softplus(lse_real) - lse_real)
            + jnp.mean(jax.nn.softplus(lse_fake)))


def discriminator_loss(out: Mapping, hp: Mapping) -> jax.Array:
    return supervised_loss(out) + hp["unsupervised_weight"] * unsupervised_loss(out)


def generator_loss(out: Mapping, hp: Mapping) -> jax.Array:
    """Feature matching on D's last hidden layer."""
    real = jnp.mean(out["d_real"]["features"], axis=0)
    fake = jnp.mean(out["d_fake"]["features"], axis=0)
    return jnp.mean((real - fake) ** 2)


def labelled_indices(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """The fixed labelled subset: ``per_class`` indices of each class, the first of each class
    in a permutation drawn from ``seed`` (as the authors' script selects ``txs, tys``)."""
    labels = np.asarray(labels)
    order = np.random.RandomState(seed).permutation(labels.shape[0])
    picked = []
    for c in np.unique(labels):
        members = order[labels[order] == c][:per_class]
        if members.shape[0] < per_class:
            raise ValueError(f"class {c} has {members.shape[0]} images, fewer than {per_class}")
        picked.append(members)
    return np.sort(np.concatenate(picked))
