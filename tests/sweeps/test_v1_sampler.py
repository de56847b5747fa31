"""compare_gan v1's configurations (sweeps.v1_sampler) against draws derived by hand.

The expected values below are worked out from v1's rules (generate_tasks_lib.GetTasks,
TuneParams, GetSample; params.py), not from the sampler's code: one ``random.seed(123)``
stream, models in ALL_GANS order (GAN, GAN_MINMAX, WGAN, WGAN_GP, DRAGAN, VAE, LSGAN, BEGAN),
per model num_samples - 1 = 99 (wide) or 49 (narrow) samples after the default, each drawing
its parameters in sorted v1 name order; Python 2's choice(seq) = seq[int(random() * len)].
"""

from __future__ import annotations

import random

import pytest

import models
from sweeps.runs import make_run
from sweeps.spaces import search_space, support
from sweeps.studies import build_study
from sweeps.v1_sampler import v1_configs
from tests.conftest import AUTHOR_DEFAULTS

MODELS = models.PAPER_MODELS  # the models compare_gan v1 sampled


def _stream(n: int) -> list[float]:
    random.seed(123)
    return [random.random() for _ in range(n)]


def test_first_draws_of_the_first_models_wide():
    u = _stream(4000)
    # GAN (ns_gan), sample 1: beta1, disc_iters, discriminator_batchnorm, learning_rate.
    assert v1_configs("ns_gan", "wide", 2, "mnist")[1] == {
        "beta1": 0.0 + (1.0 - 0.0) * u[0],
        "n_disc": [1, 5][int(u[1] * 2)],
        "disc_bn": [True, False][int(u[2] * 2)],
        "lr": 10.0 ** (-5.0 + 3.0 * u[3]),
    }
    # GAN sample 2 takes the next four numbers.
    assert v1_configs("ns_gan", "wide", 3, "mnist")[2] == {
        "beta1": u[4], "n_disc": [1, 5][int(u[5] * 2)], "disc_bn": [True, False][int(u[6] * 2)],
        "lr": 10.0 ** (-5.0 + 3.0 * u[7]),
    }
    # GAN_MINMAX sample 1 starts after GAN's 99 samples of 4 draws.
    o = 99 * 4
    assert v1_configs("mm_gan", "wide", 2, "cifar10")[1] == {
        "beta1": u[o], "n_disc": [1, 5][int(u[o + 1] * 2)],
        "disc_bn": [True, False][int(u[o + 2] * 2)], "lr": 10.0 ** (-5.0 + 3.0 * u[o + 3]),
    }
    # WGAN sample 1: after 2 x 99 x 4 draws; weight_clipping (10^U[-3,0]) comes last.
    o = 2 * 99 * 4
    assert v1_configs("wgan", "wide", 2, "celeba")[1] == {
        "beta1": u[o], "n_disc": [1, 5][int(u[o + 1] * 2)],
        "disc_bn": [True, False][int(u[o + 2] * 2)], "lr": 10.0 ** (-5.0 + 3.0 * u[o + 3]),
        "clip": 10.0 ** (-3.0 + 3.0 * u[o + 4]),
    }
    # BEGAN sample 1: after GAN, GAN_MINMAX (4 each), WGAN, WGAN_GP, DRAGAN (5 each), VAE and
    # LSGAN (4 each) x 99; order beta1, disc_iters, discriminator_batchnorm, gamma, lambda, lr.
    o = 99 * (4 + 4 + 5 + 5 + 5 + 4 + 4)
    assert v1_configs("began", "wide", 2, "triangles")[1] == {
        "beta1": u[o], "n_disc": [1, 5][int(u[o + 1] * 2)],
        "disc_bn": [True, False][int(u[o + 2] * 2)], "gamma": u[o + 3],
        "lambda_k": 10.0 ** (-4.0 + 2.0 * u[o + 4]), "lr": 10.0 ** (-5.0 + 3.0 * u[o + 5]),
    }
    # The numbers themselves (Python's MT19937 seeded with 123), for the record.
    assert u[:4] == pytest.approx([0.052363598850944326, 0.08718667752263232,
                                   0.4072417636703983, 0.10770023493843905], abs=0, rel=0)
    assert v1_configs("ns_gan", "wide", 2, "mnist")[1] == {
        "beta1": 0.052363598850944326, "n_disc": 1, "disc_bn": True,
        "lr": 2.1042663234335317e-05,
    }


def test_first_draws_narrow_and_the_vae():
    u = _stream(2000)
    # Narrow GAN sample 1: beta1 {0.5} and disc_iters {1} still draw.
    assert v1_configs("ns_gan", "narrow", 2, "mnist")[1] == {
        "beta1": 0.5, "n_disc": 1, "disc_bn": [True, False][int(u[2] * 2)],
        "lr": 10.0 ** (-4.0 + 1.0 * u[3]),
    }
    o = 49 * 4  # GAN_MINMAX after GAN's 49 narrow samples
    assert v1_configs("mm_gan", "narrow", 2, "mnist")[1] == {
        "beta1": 0.5, "n_disc": 1, "disc_bn": [True, False][int(u[o + 2] * 2)],
        "lr": 10.0 ** (-4.0 + u[o + 3]),
    }
    # VAE (wide), after GAN, GAN_MINMAX, WGAN, WGAN_GP, DRAGAN: disc_iters draws but is
    # dropped (v1's VAE never reads it); discriminator_batchnorm is kept (its encoder's BN).
    u = _stream(3000)
    o = 99 * (4 + 4 + 5 + 5 + 5)
    assert v1_configs("vae", "wide", 2, "mnist")[1] == {
        "beta1": u[o], "disc_bn": [True, False][int(u[o + 2] * 2)],
        "lr": 10.0 ** (-5.0 + 3.0 * u[o + 3]),
    }


# The last sample of every model, as compare_gan v1's own GetTasks printed them under Python
# 2.7.18 (experiments phase1_gan8_mnist_sample100_rep1 and phase2_gan8_celeba_sample50_rep1;
# params.py and generate_tasks_lib.py of d6c5976, TensorFlow stubbed out), in v1 names.
V1_LAST_SAMPLES = {
    ("wide", "GAN"): {"beta1": 0.6100094417157729, "disc_iters": 1,
                      "discriminator_batchnorm": True, "learning_rate": 0.0006151619866242711},
    ("wide", "GAN_MINMAX"): {"beta1": 0.5875448413369136, "disc_iters": 5,
                             "discriminator_batchnorm": True,
                             "learning_rate": 0.0003875266224480877},
    ("wide", "WGAN"): {"beta1": 0.7553693183218401, "disc_iters": 5,
                       "discriminator_batchnorm": False, "learning_rate": 0.0018182904604358212,
                       "weight_clipping": 0.7334233415239592},
    ("wide", "WGAN_GP"): {"beta1": 0.8416119349985627, "disc_iters": 5,
                          "discriminator_batchnorm": True, "lambda": 2.7194701563927968,
                          "learning_rate": 0.0016303111251702112},
    ("wide", "DRAGAN"): {"beta1": 0.8791848899657604, "disc_iters": 1,
                         "discriminator_batchnorm": True, "lambda": 2.192481890386342,
                         "learning_rate": 0.004409728817590286},
    ("wide", "VAE"): {"beta1": 0.5625498278742835, "disc_iters": 5,
                      "discriminator_batchnorm": False, "learning_rate": 1.0224750713044335e-05},
    ("wide", "LSGAN"): {"beta1": 0.4806011318315897, "disc_iters": 1,
                        "discriminator_batchnorm": False, "learning_rate": 0.0073755931009460395},
    ("wide", "BEGAN"): {"beta1": 0.9392015676374537, "disc_iters": 5,
                        "discriminator_batchnorm": False, "gamma": 0.09606498179899015,
                        "lambda": 0.004176026302360336, "learning_rate": 0.00639311173072333},
    ("narrow", "GAN"): {"beta1": 0.5, "disc_iters": 1, "discriminator_batchnorm": False,
                        "learning_rate": 0.0006614212235961656},
    ("narrow", "GAN_MINMAX"): {"beta1": 0.5, "disc_iters": 1, "discriminator_batchnorm": True,
                               "learning_rate": 0.0005243476520772696},
    ("narrow", "WGAN"): {"beta1": 0.5, "disc_iters": 1, "discriminator_batchnorm": True,
                         "learning_rate": 0.0004456840517922471,
                         "weight_clipping": 0.01778561581677935},
    ("narrow", "WGAN_GP"): {"beta1": 0.5, "disc_iters": 1, "discriminator_batchnorm": False,
                            "lambda": 0.11109790989623998,
                            "learning_rate": 0.0001359177527745012},
    ("narrow", "DRAGAN"): {"beta1": 0.5, "disc_iters": 1, "discriminator_batchnorm": False,
                           "lambda": 0.8495278814118251, "learning_rate": 0.0001373649556311164},
    ("narrow", "VAE"): {"beta1": 0.5, "disc_iters": 1, "discriminator_batchnorm": False,
                        "learning_rate": 0.0005974409170842997},
    ("narrow", "LSGAN"): {"beta1": 0.5, "disc_iters": 1, "discriminator_batchnorm": True,
                          "learning_rate": 0.00016813441533227553},
    ("narrow", "BEGAN"): {"beta1": 0.5, "disc_iters": 1, "discriminator_batchnorm": False,
                          "gamma": 0.7382187038372263, "lambda": 0.001,
                          "learning_rate": 0.0006578177820568058},
}
PROJECT_KEYS = {"beta1": "beta1", "disc_iters": "n_disc", "discriminator_batchnorm": "disc_bn",
                "learning_rate": "lr", "weight_clipping": "clip", "gamma": "gamma"}
V1_MODEL = {"ns_gan": "GAN", "mm_gan": "GAN_MINMAX", "wgan": "WGAN", "wgan_gp": "WGAN_GP",
            "dragan": "DRAGAN", "vae": "VAE", "lsgan": "LSGAN", "began": "BEGAN"}


@pytest.mark.parametrize("model", MODELS)
def test_last_samples_equal_v1s_own_output(model):
    for space, n in (("wide", 100), ("narrow", 50)):
        v1 = V1_LAST_SAMPLES[(space, V1_MODEL[model])]
        lam = "lambda_k" if model == "began" else "lambda"
        expected = {PROJECT_KEYS.get(k, lam): v for k, v in v1.items()}
        if model == "vae":
            del expected["n_disc"]
        got = v1_configs(model, space, n, "celeba")[n - 1]
        assert got == expected
        assert {k: type(v) for k, v in got.items()} == {k: type(v) for k, v in expected.items()}


@pytest.mark.parametrize("space", ["wide", "narrow"])
def test_config_zero_ranges_and_determinism(space):
    n = 100 if space == "wide" else 50
    for model in MODELS:
        configs = v1_configs(model, space, n, "mnist")
        # config 0 is v1's sample 0: our author defaults, except the narrow VAE's encoder
        # batch norm, off in v1's narrow space (docs/protocol.md §2.8)
        narrow_vae = (model, space) == ("vae", "narrow")
        assert len(configs) == n and configs[0] == ({"disc_bn": False} if narrow_vae else {})
        assert make_run(model, "mnist", 0, configs[0]).disc_bn is (
            False if narrow_vae else AUTHOR_DEFAULTS[model]["disc_bn"])
        assert configs == v1_configs(model, space, n, "triangles")  # every data set
        assert v1_configs(model, space, 7, "cifar10") == configs[:7]  # prefix, deterministic
        dists = search_space(model, space)
        for cfg in configs[1:]:
            make_run(model, "mnist", 0, cfg)  # valid overrides
            assert set(cfg) <= set(dists), (model, cfg)  # v1's names are our space's
            for key, value in cfg.items():
                if not isinstance(value, bool):
                    lo, hi = support(dists[key])
                    assert lo * (1 - 1e-12) <= value <= hi * (1 + 1e-12), (model, key, value)
            if space == "narrow":
                assert cfg["beta1"] == 0.5 and cfg.get("n_disc", 1) == 1
        if model in ("wgan_gp", "dragan") and space == "narrow":
            assert {c["disc_bn"] for c in configs[1:]} == {False}
        if model == "began" and space == "narrow":
            assert {c["lambda_k"] for c in configs[1:]} == {1e-3}


def test_bad_requests():
    with pytest.raises(ValueError, match="1 to 50"):
        v1_configs("wgan", "narrow", 51, "mnist")
    with pytest.raises(ValueError, match="no model"):
        v1_configs("gan3", "wide", 3, "mnist")
    with pytest.raises(ValueError, match="wide and narrow"):
        v1_configs("wgan", "default", 1, "mnist")


def test_studies_use_v1_for_phases_1_and_2():
    phase1 = build_study("phase1", profile="smoke", datasets=["mnist"], models=["began"],
                         num_configs=5)
    expected = [make_run("began", "mnist", 0, c, config=i)
                for i, c in enumerate(v1_configs("began", "wide", 5, "mnist"))]
    assert list(phase1.runs) == expected
    project = build_study("phase1", profile="smoke", datasets=["mnist"], models=["began"],
                          num_configs=5, sampler="project")
    assert list(project.runs) != expected
    custom = build_study("custom", profile="smoke", space="narrow", num_configs=3,
                         models=["wgan"], sampler="v1")
    assert [r.hp["clip"] for r in custom.runs[1:]] == [
        c["clip"] for c in v1_configs("wgan", "narrow", 3, "triangles")[1:]]
    with pytest.raises(ValueError, match="sampler"):
        build_study("phase2", profile="smoke", config_seed=3)
    with pytest.raises(ValueError, match="sampler"):
        build_study("phase2", profile="smoke", sampler="numpy")
