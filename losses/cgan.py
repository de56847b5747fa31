"""CGAN objective (Mirza & Osindero 2014; docs/protocol.md §12.1): the non-saturating GAN
loss (§2.1) on D's logits of (image, class) pairs, ``d_real`` = D(x, y) and ``d_fake`` =
D(G(z, y'), y')."""

from __future__ import annotations

from losses import ns_gan
from losses.base import Objective

OBJECTIVE = Objective(ns_gan.discriminator_loss, ns_gan.generator_loss)
