"""The configurations the paper trained: compare_gan v1's sampler, reproduced draw for draw.

compare_gan v1 (tag v1.0, ``compare_gan/src/``; docs/protocol.md §6.3) builds a study with
``generate_tasks_lib.GetTasks``, which calls ``random.seed(123)`` once per experiment (one
experiment = one phase on one data set) and then ``TuneParams``: for each model in
``ALL_GANS`` order (GAN, GAN_MINMAX, WGAN, WGAN_GP, DRAGAN, VAE, LSGAN, BEGAN), sample 0 is the
defaults (no draw) and ``num_samples - 1`` samples come from ``GetSample``, all from the one
``random`` stream. ``GetSample`` walks the model's parameters in sorted v1 name order:
``random.choice(range)`` for a discrete one (a one-element range still draws), otherwise
``random.uniform(lo, hi)``, then ``math.pow(10, v)`` on a log scale. Phase 1 uses the wide
ranges with num_samples = 100, phase 2 the narrow ones with 50 (``GetTasks``).

Python 3's ``random.Random(123).random()`` is the same Mersenne-Twister stream as Python 2's,
and ``uniform`` the same formula ``a + (b - a) * random()``; Python 2's ``choice(seq)`` was
``seq[int(random() * len(seq))]`` (Python 3's draws differently), so it is emulated here.
``params.GetParameters`` ignores the data set and every experiment reseeds, so the
configurations are the same on every data set.

Names: the v1 parameters become this project's override keys (``V1_NAMES``); v1's ``lambda``
is BEGAN's lambda_k and the WGAN-GP / DRAGAN penalty weight ``lambda``. The VAE draws
disc_iters and discriminator_batchnorm too (they advance the stream); its n_disc is dropped
because v1's ``VAE.run_single_train_step`` never reads disc_iters, while disc_bn is kept: v1's
``VAE.encoder`` applies batch norm only when discriminator_batchnorm is on, and so does ours
(``models.architectures.vae.Encoder``).

Config 0 is v1's sample 0 (``GetDefaultParams``) as overrides of our author defaults: {}
except for the VAE in the narrow space, where v1's default discriminator_batchnorm is False
(``GetDefaultNarrowRange`` adds it with default False and ``VAEHyperParams`` keeps it), so
config 0 is ``{"disc_bn": False}`` (:func:`sweeps.spaces.config_zero`, docs/protocol.md §2.8).
"""

from __future__ import annotations

import functools
import math
import random
from typing import Any, NamedTuple

from sweeps.spaces import config_zero

SEED = 123  # generate_tasks_lib.GetTasks: random.seed(123)
# generate_tasks_lib.ALL_GANS, in its order; the stream runs through the models in this order.
ALL_GANS = ("GAN", "GAN_MINMAX", "WGAN", "WGAN_GP", "DRAGAN", "VAE", "LSGAN", "BEGAN")
# GetTasks: phase1_* experiments TuneParams(num_samples=100, "wide"), phase2_* (50, "narrow").
NUM_SAMPLES = {"wide": 100, "narrow": 50}
# This project's model name -> v1 gan_type (gan_lib.MODELS; GAN is the non-saturating one).
V1_MODELS = {
    "ns_gan": "GAN", "mm_gan": "GAN_MINMAX", "wgan": "WGAN", "wgan_gp": "WGAN_GP",
    "dragan": "DRAGAN", "vae": "VAE", "lsgan": "LSGAN", "began": "BEGAN",
}


class V1Param(NamedTuple):
    """params.ParamInfo without the default: the sampled range and how it is drawn."""

    range: tuple[Any, ...]
    is_log_scale: bool
    is_discrete: bool


def _continuous(lo: float, hi: float, log: bool) -> V1Param:
    return V1Param((lo, hi), log, False)


def _discrete(*values: Any) -> V1Param:
    return V1Param(tuple(values), False, True)


def v1_parameters(gan_type: str, space: str) -> dict[str, V1Param]:
    """v1 parameter name -> range of ``gan_type`` in ``space`` (v1 ``params.GetParameters``).

    Common part: ``GetDefaultWideRange`` (beta1 U[0,1], learning_rate 10^U[-5,-2],
    disc_iters {1, 5}, discriminator_batchnorm {True, False}) or ``GetDefaultNarrowRange``
    (beta1 {0.5}, learning_rate 10^U[-4,-3], disc_iters {1}); in the narrow space each
    ``*HyperParams`` adds discriminator_batchnorm: {False} for WGAN_GP and DRAGAN, else
    {True, False}. Then WGAN weight_clipping 10^U[-3,0] / 10^U[-2,0]; WGAN_GP and DRAGAN lambda
    10^U[-1,2] / 10^U[-1,1]; BEGAN lambda 10^U[-4,-2] / 10^U[-3,-3] and gamma U[0,1] /
    U[0.6,0.9].
    """
    wide = space == "wide"
    if wide:
        p = {
            "beta1": _continuous(0.0, 1.0, False),
            "learning_rate": _continuous(-5.0, -2.0, True),
            "disc_iters": _discrete(1, 5),
            "discriminator_batchnorm": _discrete(True, False),
        }
    elif space == "narrow":
        p = {
            "beta1": _discrete(0.5),
            "learning_rate": _continuous(-4.0, -3.0, True),
            "disc_iters": _discrete(1),
        }
        no_bn = gan_type in ("WGAN_GP", "DRAGAN")
        p["discriminator_batchnorm"] = _discrete(False) if no_bn else _discrete(True, False)
    else:
        raise ValueError(f"compare_gan v1 sampled only the wide and narrow spaces, not {space!r}")
    if gan_type == "WGAN":
        p["weight_clipping"] = _continuous(-3.0 if wide else -2.0, 0.0, True)
    elif gan_type in ("WGAN_GP", "DRAGAN"):
        p["lambda"] = _continuous(-1.0, 2.0 if wide else 1.0, True)
    elif gan_type == "BEGAN":
        p["lambda"] = _continuous(-4.0, -2.0, True) if wide else _continuous(-3.0, -3.0, True)
        p["gamma"] = _continuous(0.0, 1.0, False) if wide else _continuous(0.6, 0.9, False)
    elif gan_type not in ALL_GANS:
        raise ValueError(f"unknown v1 gan_type {gan_type!r}")
    return p


# v1 name -> this project's override key (losses/*.py ``defaults``). The v1 names are read by
# AbstractGAN.__init__ (learning_rate, beta1, discriminator_batchnorm), every GAN's __init__
# (disc_iters), WGAN.__init__ (weight_clipping -> self.clip), WGAN_GP/DRAGAN.__init__ (lambda ->
# self.lambd, the penalty weight) and BEGAN.__init__ (lambda -> self.lambd, the k learning
# rate lambda_k in update_k; gamma -> self.gamma).
V1_NAMES = {
    "learning_rate": "lr",
    "beta1": "beta1",
    "disc_iters": "n_disc",
    "discriminator_batchnorm": "disc_bn",
    "weight_clipping": "clip",
    "gamma": "gamma",
}


def project_name(gan_type: str, v1_name: str) -> str | None:
    """The override key of v1 parameter ``v1_name`` of ``gan_type``; None when v1 ignores it."""
    if v1_name == "lambda":
        return "lambda_k" if gan_type == "BEGAN" else "lambda"
    if gan_type == "VAE" and v1_name == "disc_iters":
        return None  # drawn, but VAE.run_single_train_step never reads it
    return V1_NAMES[v1_name]


def _py2_choice(rng: random.Random, seq: tuple[Any, ...]) -> Any:
    """Python 2.7's ``random.choice``: ``seq[int(random() * len(seq))]``."""
    return seq[int(rng.random() * len(seq))]


def _get_sample(rng: random.Random, params: dict[str, V1Param]) -> dict[str, Any]:
    """v1 ``generate_tasks_lib.GetSample``: one draw per parameter, in sorted name order."""
    sample = {}
    for name, info in sorted(params.items()):
        if info.is_discrete:
            value = _py2_choice(rng, info.range)
        else:
            value = rng.uniform(info.range[0], info.range[1])
            if info.is_log_scale:
                value = math.pow(10, value)
        sample[name] = value
    return sample


@functools.lru_cache(maxsize=2)
def experiment_samples(space: str) -> dict[str, tuple[dict[str, Any], ...]]:
    """Every v1 sample of one experiment in ``space``, keyed by v1 gan_type, in v1 names.

    Sample 0 of each model is None (the defaults, no draw). The stream is generated whole, as
    ``GetTasks`` + ``TuneParams`` did, so sample i of a model is exact whatever is asked for.
    """
    rng = random.Random(SEED)
    result = {}
    for gan_type in ALL_GANS:
        params = v1_parameters(gan_type, space)
        samples = [None] + [_get_sample(rng, params) for _ in range(NUM_SAMPLES[space] - 1)]
        result[gan_type] = tuple(samples)
    return result


def v1_configs(model: str, space: str, num_configs: int, dataset: str) -> list[dict]:
    """The first ``num_configs`` configurations of ``model`` the paper trained on ``dataset``.

    Override dicts for ``sweeps.runs.make_run`` in this project's names; config 0 is v1's
    defaults (``{}``, or ``{"disc_bn": False}`` for the narrow VAE: module docstring).
    ``dataset`` does not change the draws (v1 reseeds every experiment and its ranges ignore
    the data set). v1 ran no phase 2 on the triangles; the
    narrow configurations there are the ones v1 would have drawn. Raises a one-line
    ``ValueError`` for unknown names or more configurations than v1 drew.
    """
    del dataset  # the same configurations on every data set (docstring)
    if model not in V1_MODELS:
        raise ValueError(f"compare_gan v1 has no model {model!r}; choose one of: "
                        f"{', '.join(V1_MODELS)}")
    if space not in NUM_SAMPLES:
        raise ValueError(f"the v1 sampler covers the wide and narrow spaces, not {space!r}")
    limit = NUM_SAMPLES[space]
    if int(num_configs) != num_configs or not 1 <= num_configs <= limit:
        raise ValueError(f"num_configs={num_configs}: compare_gan v1 drew 1 to {limit} "
                        f"configurations in the {space} space; for more use the project sampler")
    gan_type = V1_MODELS[model]
    configs: list[dict] = [config_zero(model, space)]
    for sample in experiment_samples(space)[gan_type][1:int(num_configs)]:
        overrides = {}
        for v1_name, value in sample.items():
            key = project_name(gan_type, v1_name)
            if key is not None:
                overrides[key] = value
        configs.append(overrides)
    return configs
