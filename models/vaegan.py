"""VAE-GAN networks (Larsen et al. 2016, "Autoencoding beyond pixels using a learned
similarity metric"; docs/protocol.md §11.6).

Encoder: the VAE's (:class:`models.vae.Encoder`: the D trunk, mu and sigma). Decoder: the
study's GAN generator. D: the study's D, also returning Dis_l, the layer whose features measure
reconstructions: the last convolutional layer's activations (conv128 -> [BN] -> lrelu,
flattened). The paper measures reconstructions in the l-th layer of Dis (its §2, Dis_l);
the authors' code picks the layer by depth (``model/aegan.py``, ``AEGAN.__init__``,
``recon_depth``); the last conv layer is our choice.
"""

from __future__ import annotations

import flax.linen as nn
import jax

from models.joins import conv_features
from models.layers import dense, lrelu, maybe_bn
from models.vae import Encoder

__all__ = ["Encoder", "FeatureDiscriminator"]


class FeatureDiscriminator(nn.Module):
    """Images -> {"logit" [B], "features" [B, 128 h/4 w/4] (Dis_l)}. The layers are the
    study's D's (§3.2)."""

    use_batch_norm: bool

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> dict[str, jax.Array]:
        features = conv_features(x, self.use_batch_norm, train)
        h = lrelu(maybe_bn(dense(1024)(features), self.use_batch_norm, train))
        return {"logit": dense(1)(h)[:, 0], "features": features}
