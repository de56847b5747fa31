"""Search spaces, the configuration sampler and the named studies (docs/protocol.md
§6), against known answers. No training."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import models
from benchmark.runner.results import load_rows, write_rows
from sweeps import config as profiles
from sweeps.runs import make_run
from sweeps.spaces import sample_configs, search_space, support
from sweeps.studies import best_configs, build_study
from tests.conftest import AUTHOR_DEFAULTS

# the image models: the sequence family (SeqGAN, MLE) has no GAN search spaces to test here
MODELS = [m for m in models.names() if models.get(m).family != "sequence"]


@pytest.mark.parametrize("model", MODELS)
def test_config_zero_is_the_author_default(model):
    for space in ("default", "wide", "narrow"):
        configs = sample_configs(model, space, 1 if space == "default" else 3)
        # v1's narrow default turns the VAE encoder's batch norm off (docs/protocol.md §2.8)
        assert configs[0] == ({"disc_bn": False} if (model, space) == ("vae", "narrow") else {})
    run = make_run(model, "triangles", 0, sample_configs(model, "wide", 2)[0])
    expected = AUTHOR_DEFAULTS[model]
    for key in ("lr", "beta1", *[h.name for h in models.get(model).hparams]):
        assert run.hp[key] == pytest.approx(expected[key])
    assert (run.n_disc, run.disc_bn) == (expected.get("n_disc", 1), expected["disc_bn"])


@pytest.mark.parametrize("space", ["wide", "narrow"])
def test_same_seed_gives_the_same_configs_on_every_data_set(space):
    a = build_study("custom", profile="smoke", datasets=["mnist"], space=space, num_configs=6)
    b = build_study("custom", profile="smoke", datasets=["triangles"], space=space,
                    num_configs=6)
    key = lambda r: (r.model, r.config, r.hparams, r.n_disc, r.disc_bn)
    assert [key(r) for r in a.runs] == [key(r) for r in b.runs]
    # ... whatever other models are sampled alongside, and however many configs are asked for
    alone = build_study("custom", profile="smoke", models=["began"], space=space, num_configs=4)
    assert [key(r) for r in alone.runs] == [key(r) for r in b.runs if r.model == "began"][:4]
    assert sample_configs("wgan", space, 3, seed=1) != sample_configs("wgan", space, 3, seed=0)


def test_narrow_space_values():
    for model in MODELS:
        for cfg in sample_configs(model, "narrow", 50)[1:]:
            assert 1e-4 <= cfg["lr"] <= 1e-3
            assert cfg["beta1"] == 0.5
            if model != "vae":
                assert cfg["n_disc"] == 1
    gamma = [c["gamma"] for c in sample_configs("began", "narrow", 50)[1:]]
    assert 0.6 <= min(gamma) and max(gamma) <= 0.9
    assert {c["lambda_k"] for c in sample_configs("began", "narrow", 50)[1:]} == {1e-3}
    for model in ("wgan_gp", "dragan"):
        lam = [c["lambda"] for c in sample_configs(model, "narrow", 50)[1:]]
        assert 0.1 <= min(lam) and max(lam) <= 10.0
    clip = [c["clip"] for c in sample_configs("wgan", "narrow", 50)[1:]]
    assert 1e-2 <= min(clip) and max(clip) <= 1.0


def test_narrow_disc_bn_is_only_off_for_wgan_gp_and_dragan():
    # compare_gan v1's params.py: {yes, no} for every model (the VAE's encoder included),
    # "no" only for these two; and for SNGAN and LAPGAN, whose D has no batch norm by design
    # (docs/protocol.md §13.6), and the semi-supervised GAN, whose authors' D has none
    # (train_mnist_feature_matching.py; §12.7)
    off = ("wgan_gp", "dragan", "sngan", "lapgan", "ssgan")
    for model in MODELS:
        drawn = {c["disc_bn"] for c in sample_configs(model, "narrow", 50)[1:]}
        assert drawn == ({False} if model in off else {True, False}), model


def test_vae_searches_its_encoder_batch_norm_and_has_no_n_disc():
    """v1 searches discriminator_batchnorm for the VAE (its encoder's batch norm) in both
    spaces; disc_iters is drawn but never read, so the VAE has no n_disc."""
    for space in ("wide", "narrow"):
        assert set(search_space("vae", space)) == {"lr", "beta1", "disc_bn"}
        assert search_space("vae", space)["disc_bn"].values == (True, False)
        configs = sample_configs("vae", space, 50)
        assert {c["disc_bn"] for c in configs[1:]} == {True, False}
        runs = [make_run("vae", "mnist", 0, c) for c in configs]
        assert {r.disc_bn for r in runs} == {True, False} and {r.n_disc for r in runs} == {1}
    assert make_run("vae", "mnist", 0).disc_bn is True  # the wide (author) default
    with pytest.raises(ValueError, match="the VAE has no n_disc") as err:
        make_run("vae", "mnist", 0, {"n_disc": 5})
    assert "\n" not in str(err.value)


def test_g_schedule_is_recorded_grouped_and_fingerprinted():
    """The G schedule (docs/protocol.md §9.3) changes the compiled program and the results:
    it is in the run's id (when not v1's), its structure key, its columns and the study's
    fingerprint; the VAE has none."""
    from benchmark.runner.tasks import make_tasks
    from sweeps.runs import Study

    v1, modulo = make_run("wgan", "mnist", 0), make_run("wgan", "mnist", 0, g_schedule="modulo")
    assert (v1.g_schedule, modulo.g_schedule) == ("v1", "modulo")
    assert v1.columns()["g_schedule"] == "v1" and modulo.columns()["g_schedule"] == "modulo"
    assert v1.run_id == "wgan_mnist_c000_s0" and modulo.run_id == "wgan_gsched-modulo_mnist_c000_s0"
    assert v1.structure_key != modulo.structure_key
    assert len(make_tasks((v1, modulo), 8)) == 2
    profile = build_study("default", profile="smoke").config
    assert Study("s", (v1,), profile).fingerprint() != Study("s", (modulo,), profile).fingerprint()
    with pytest.raises(ValueError, match="unknown G schedule"):
        make_run("wgan", "mnist", 0, g_schedule="every")
    with pytest.raises(ValueError, match="no separate G steps"):
        make_run("vae", "mnist", 0, g_schedule="modulo")
    study = build_study("default", profile="smoke", models=["wgan", "vae"], seeds=[0],
                        g_schedule="modulo")
    assert {r.model: r.g_schedule for r in study.runs} == {"wgan": "modulo", "vae": "v1"}
    assert {r.g_schedule for r in build_study("default", profile="smoke").runs} == {"v1"}


def test_wide_space_ranges_and_distributions():
    n = 2000
    for model in MODELS:
        for cfg in sample_configs(model, "wide", 30)[1:]:
            assert 1e-5 <= cfg["lr"] <= 1e-2 and 0.0 <= cfg["beta1"] <= 1.0
            if model != "vae":
                assert cfg["n_disc"] in (1, 5) and cfg["disc_bn"] in (True, False)
            for h in models.get(model).hparams:  # inside the valid range that make_run checks
                assert h.low <= cfg[h.name] <= h.high
                lo, hi = support(h.wide)
                assert lo <= cfg[h.name] <= hi
            make_run(model, "mnist", 0, cfg)
    wgan = sample_configs("wgan", "wide", n + 1)[1:]
    log_lr = np.log10([c["lr"] for c in wgan])
    assert log_lr.mean() == pytest.approx(-3.5, abs=0.1)
    assert log_lr.std() == pytest.approx(3 / math.sqrt(12), abs=0.05)  # U[-5, -2]
    assert np.mean([c["beta1"] for c in wgan]) == pytest.approx(0.5, abs=0.03)
    assert np.mean([c["n_disc"] == 5 for c in wgan]) == pytest.approx(0.5, abs=0.04)
    assert np.mean([c["disc_bn"] for c in wgan]) == pytest.approx(0.5, abs=0.04)
    assert np.log10([c["clip"] for c in wgan]).mean() == pytest.approx(-1.5, abs=0.1)
    began = sample_configs("began", "wide", n + 1)[1:]
    assert np.log10([c["lambda_k"] for c in began]).mean() == pytest.approx(-3.0, abs=0.07)
    assert np.mean([c["gamma"] for c in began]) == pytest.approx(0.5, abs=0.03)
    lam = np.log10([c["lambda"] for c in sample_configs("wgan_gp", "wide", n + 1)[1:]])
    assert lam.mean() == pytest.approx(0.5, abs=0.1) and lam.min() >= -1 and lam.max() <= 2


def test_default_study():
    study = build_study("default", profile="smoke")
    assert len(study.runs) == 24
    assert {r.dataset for r in study.runs} == {"triangles"}
    assert {r.seed for r in study.runs} == {0, 1, 2} and {r.config for r in study.runs} == {0}
    assert {r.model for r in study.runs} == set(models.PAPER_MODELS)


def test_auto_picks_preview_on_cpu_and_paper_on_an_accelerator():
    assert profiles.resolve("auto", "cpu").name == "preview"
    assert profiles.resolve("auto", "gpu").name == "paper"
    assert profiles.resolve("auto", "tpu").name == "paper"
    with pytest.raises(ValueError, match="preview"):
        profiles.resolve("laptop")


def test_preview_profile_schedule_and_hyperparameters():
    preview = profiles.resolve("preview")
    total, evals = profiles.schedule(preview, 15_625, 3_906)  # the triangles' paper schedule
    assert total == preview.schedule.steps and evals[-1] == total and len(evals) >= 2
    assert preview.evaluation.recompute_bn > 0  # G's BN averages still mix in its first steps
    lr = dict(preview.hparams.overrides)["lr"]

    study = build_study("default", profile="preview")
    assert [r.model for r in study.runs] == list(models.PAPER_MODELS)  # one seed each
    assert {r.seed for r in study.runs} == set(preview.study.seeds)
    for run in study.runs:  # a point of the narrow space, recorded in the run's columns
        columns = run.columns()
        assert columns["lr"] == (2e-4 if run.model == "began" else lr)
        assert columns["beta1"] == 0.5
        narrow = search_space(run.model, "narrow")
        for name, value in columns.items():
            if name in narrow:
                lo, hi = support(narrow[name])
                assert lo <= value <= hi, (run.model, name, value)
        if run.model != "vae":
            assert run.n_disc == 1
    disc_bn = {r.model: r.disc_bn for r in study.runs}
    assert disc_bn == {"mm_gan": False, "ns_gan": True, "lsgan": False, "wgan": True,
                       "wgan_gp": False, "dragan": False, "began": False, "vae": True}
    assert {r.hp.get("clip") for r in study.runs if r.model == "wgan"} == {0.1}
    assert {r.hp.get("lambda_k") for r in study.runs if r.model == "began"} == {1e-3}
    assert study.config.name == "preview"
    assert [r.seed for r in build_study("default", profile="preview", seeds=[3]).runs] == [3] * 8
    # the paper profile and sampled configurations keep their own values
    paper = build_study("default", profile="paper")
    for run in paper.runs:
        assert {k: run.columns()[k] for k in AUTHOR_DEFAULTS[run.model]} == \
            AUTHOR_DEFAULTS[run.model], run.model
    assert {r.seed for r in paper.runs} == {0, 1, 2}
    phase2 = build_study("phase2", profile="preview", datasets=["triangles"], num_configs=3)
    same = build_study("phase2", profile="paper", datasets=["triangles"], num_configs=3)
    assert [r.columns() for r in phase2.runs] == [r.columns() for r in same.runs]


def test_phase_studies_sizes_and_overrides():
    phase1 = build_study("phase1", profile="smoke")
    assert len(phase1.runs) == 100 * 8 * 5
    assert {r.dataset for r in phase1.runs} == {"mnist", "fashion_mnist", "cifar10", "celeba",
                                                "triangles"}
    phase2 = build_study("phase2", profile="smoke", datasets=["mnist"], num_configs=5,
                         models=["wgan", "vae"])
    assert len(phase2.runs) == 5 * 2
    assert all(r.hp["beta1"] == 0.5 for r in phase2.runs if r.config > 0)
    seeds = build_study("default", profile="smoke", seeds=[4, 4, 7], models=["lsgan"])
    assert [r.seed for r in seeds.runs] == [4, 7]


@pytest.mark.parametrize("kwargs, message", [
    ({"name": "phase4"}, "unknown study"),
    ({"name": "phase3"}, "phase1-dir"),
    ({"name": "default", "num_configs": 5}, "only the author defaults"),
    ({"name": "custom", "space": "wide"}, "needs num_configs"),
    ({"name": "custom", "space": "medium", "num_configs": 3}, "unknown search space"),
    ({"name": "default", "models": ["gan3"]}, "unknown model"),
    ({"name": "default", "seeds": [-1]}, "seeds"),
    ({"name": "phase1", "phase1_rows": pd.DataFrame()}, "only for --study phase3"),
])
def test_bad_input_is_a_one_line_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message) as err:
        build_study(profile="smoke", **kwargs)
    assert "\n" not in str(err.value)


def _rows(run, metric, values, failed=()):
    """Result rows of one run: one per (step, value) with ``metric`` set."""
    steps = [100 * (i + 1) for i in range(len(values))]
    return [{**run.columns(), "step": s, "final": s == steps[-1], "failed": s in failed,
             metric: v, **({"fid_feature": "inception"} if metric == "fid" else {})}
            for s, v in zip(steps, values, strict=True)]


def test_phase3_retrains_the_best_config_over_all_checkpoints(tmp_path):
    rows = []
    wide = {m: sample_configs(m, "wide", 4) for m in ("wgan", "ns_gan")}
    fid = {0: [50.0, 40.0, 30.0], 1: [45.0, 28.0, 29.0], 2: [60.0, 20.0, 90.0],
           3: [5.0, math.nan, math.nan]}
    for c, values in fid.items():
        run = make_run("wgan", "mnist", 0, wide["wgan"][c], config=c)
        # config 3 is marked failed from its first evaluation: its FID of 5 must not count
        rows += _rows(run, "fid", values, failed={100, 200, 300} if c == 3 else ())
    for c, f1 in {0: [0.2, 0.3], 1: [0.9, 0.1], 2: [0.5, 0.6], 3: [math.nan, math.nan]}.items():
        run = make_run("ns_gan", "triangles", 0, wide["ns_gan"][c], config=c)
        rows += _rows(run, "f1", f1)
    fid_run = make_run("ns_gan", "mnist", 0, wide["ns_gan"][3], config=3)
    rows += _rows(fid_run, "fid", [33.0])
    write_rows(tmp_path / "groups" / "g0" / "rows.jsonl", rows[: len(rows) // 2])
    write_rows(tmp_path / "groups" / "g1" / "rows.jsonl", rows[len(rows) // 2:])

    best = best_configs(load_rows(tmp_path))
    picked = {(r.dataset, r.model): (r.config, r.step) for r in best.itertuples()}
    assert picked == {("mnist", "wgan"): (2, 200), ("triangles", "ns_gan"): (1, 100),
                      ("mnist", "ns_gan"): (3, 100)}

    phase1 = load_rows(tmp_path)
    study = build_study("phase3", profile="smoke", phase1_rows=phase1,
                        models=["wgan", "ns_gan"])
    assert len(study.runs) == 3 * 50
    by_pair = {}
    for r in study.runs:
        by_pair.setdefault((r.dataset, r.model), []).append(r)
    assert sorted(r.seed for r in by_pair[("mnist", "wgan")]) == list(range(50))
    expected = make_run("wgan", "mnist", 0, wide["wgan"][2], config=2)
    assert {(r.config, r.hparams, r.n_disc, r.disc_bn) for r in by_pair[("mnist", "wgan")]} \
        == {(2, expected.hparams, expected.n_disc, expected.disc_bn)}
    tri = make_run("ns_gan", "triangles", 0, wide["ns_gan"][1], config=1)
    assert {(r.config, r.hparams) for r in by_pair[("triangles", "ns_gan")]} \
        == {(1, tri.hparams)}

    small = build_study("phase3", profile="smoke", phase1_rows=phase1,
                        datasets=["triangles"], seeds=[0, 1])
    assert [(r.model, r.seed) for r in small.runs] == [("ns_gan", 0), ("ns_gan", 1)]
    with pytest.raises(ValueError, match="cifar10"):
        build_study("phase3", profile="smoke", phase1_rows=phase1, datasets=["cifar10"])
    with pytest.raises(ValueError, match="no phase-1 run"):
        build_study("phase3", profile="smoke", phase1_rows=phase1.iloc[0:0])
