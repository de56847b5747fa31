"""BiGAN (Donahue, Krähenbühl & Darrell 2017) and its stochastic-encoder variant ALI
(Dumoulin et al. 2017), docs/protocol.md §12.5: trained by the ``encoder`` family; the option
``encoder=stochastic`` is ALI (architecture ``ali``, prior N(0, I)). Adam beta1 0.5 for both;
lr 2e-4 for BiGAN ([BiGAN code] ``train_gan.py``: ``--learning_rate`` 0.0002, Adam's b1 from
``--momentum`` 0.5), 1e-4 for ALI ([ALI] appendix tables, ``experiments/ali_*.py``:
``LEARNING_RATE = 1e-4``, ``BETA1 = 0.5``). The option ``d_pass`` is how D scores the real
and the fake pairs in training mode: ``separate`` (default; [BiGAN code] ``gan.py``,
``Featurizer`` without ``--cat_inputs``), two passes each batch-normalised over itself, or
``joint`` (``--cat_inputs``), one pass on the two concatenated (benchmark/training/families/
encoder.py, ``pairs``)."""

from models.registry import Model, register_model

BIGAN_LR = 2e-4
ALI_LR = 1e-4


@register_model("bigan")
def recipe(encoder: str = "deterministic", d_pass: str = "separate") -> Model:
    stochastic = encoder == "stochastic"
    return Model("ALI" if stochastic else "BiGAN", "bigan",
                 common={"lr": ALI_LR if stochastic else BIGAN_LR, "beta1": 0.5, "n_disc": 1,
                         "disc_bn": True},
                 family="encoder", arch="ali" if stochastic else "bigan",
                 latent="normal" if stochastic else "uniform",
                 options={"encoder": ("deterministic", "stochastic"),
                          "d_pass": ("separate", "joint")})
