"""ALI's networks (Dumoulin et al. 2017; docs/protocol.md §12.5), the architecture ``ali``:
models/architectures/bigan.py's stochastic, reparametrised Gaussian E and ALI's three-part D with
its dropout (``JointDiscriminator``; BiGAN's D joins z into its hidden layers instead)."""

from models.architectures.bigan import BiganArchitecture
from models.registry import register_architecture


@register_architecture("ali")
class Ali(BiganArchitecture):
    stochastic = True
