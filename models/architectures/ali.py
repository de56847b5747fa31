"""ALI's networks (Dumoulin et al. 2017; docs/protocol.md §12.5), the architecture ``ali``:
BiGAN's (models/architectures/bigan.py) with the stochastic, reparametrised Gaussian E."""

from models.architectures.bigan import BiganArchitecture
from models.registry import register_architecture


@register_architecture("ali")
class Ali(BiganArchitecture):
    stochastic = True
