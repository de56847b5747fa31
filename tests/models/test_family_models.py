"""Issue 21's models in the house (docs/protocol.md §13): the dcgan, sngan, gran and lapgan
recipes, spectral normalisation on any architecture (``NAME+sn``), Adam's beta2 as SNGAN's
hyperparameter, architecture as a study axis, tables by model and architecture, and the bad
inputs that are one line."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd
import pytest

import models
from benchmark.cli import main as cli
from benchmark.training.base import adam
from reports.tables import format_summary, summary
from sweeps.runs import make_run, spectral_norm_arch
from sweeps.studies import build_study


def test_recipes_name_their_objective_architecture_and_defaults():
    sngan = models.get("sngan")
    assert (sngan.arch, sngan.objective is models.get("hinge").objective) == ("sngan", True)
    assert sngan.defaults == {"lr": 2e-4, "beta1": 0.0, "n_disc": 5, "disc_bn": False,
                              "beta2": 0.9}
    assert models.get("dcgan").defaults == {"lr": 2e-4, "beta1": 0.5, "n_disc": 1,
                                            "disc_bn": True}
    assert models.get("dcgan").objective is models.get("ns_gan").objective
    assert (models.get("gran").arch, models.get("lapgan").family) == ("gran", "multiscale")
    # GRAN's authors' optimiser (docs/protocol.md §13.4): G's lr 1e-4, beta1 0, D's lr 0.4 x
    assert models.get("gran").defaults == {"lr": 1e-4, "beta1": 0.0, "n_disc": 1,
                                           "disc_bn": True, "d_lr_ratio": 0.4}
    assert models.architecture("sngan").spectral_norm
    assert models.architecture("dcgan+sn").spectral_norm
    assert not models.architecture("dcgan").spectral_norm


def test_adam_takes_beta2_from_the_hyperparameters_where_a_model_has_it():
    params = {"w": jnp.ones(3)}
    grads = {"w": jnp.array([0.1, -2.0, 3.0])}
    for hp, b2 in (({"lr": 0.1, "beta1": 0.0, "beta2": 0.9}, 0.9),
                   ({"lr": 0.1, "beta1": 0.0}, 0.999)):
        ours, state = params, adam(hp).init(params)
        ref, ref_state = params, optax.adam(0.1, b1=0.0, b2=b2, eps=1e-8).init(params)
        for _ in range(3):
            u, state = adam(hp).update(grads, state, ours)
            ours = optax.apply_updates(ours, u)
            r, ref_state = optax.adam(0.1, b1=0.0, b2=b2, eps=1e-8).update(grads, ref_state)
            ref = optax.apply_updates(ref, r)
        np.testing.assert_allclose(np.asarray(ours["w"]), np.asarray(ref["w"]), rtol=1e-6)


def test_spectral_norm_on_any_architecture_wraps_d_only():
    facts = make_run("ns_gan", "triangles", 0, arch="dcgan+sn")
    assert facts.arch == "dcgan+sn" and facts.run_id == "ns_gan_arch-dcgan+sn_triangles_c000_s0"
    assert spectral_norm_arch("ns_gan", None) == "infogan+sn"
    assert spectral_norm_arch("ns_gan", "dcgan") == "dcgan+sn"
    arch = models.architecture("infogan+sn")

    class Facts:
        image_shape, z_dim, disc_bn, num_classes, options = (28, 28, 1), 64, True, None, ()

    assert type(arch.generator(Facts())).__name__ == "Generator"
    assert type(arch.discriminator(Facts())).__name__ == "SpectralNormed"


@pytest.mark.parametrize("model, arch, words", [
    ("vae", "vae+sn", "no discriminator"),
    ("sngan", "sngan+sn", "already normalises"),
    ("ns_gan", "nope+sn", "unknown architecture"),
    ("ns_gan", "lapgan", "multiscale family"),
    ("lapgan", "dcgan", "pyramid"),
])
def test_bad_architecture_choices_are_one_line(model, arch, words):
    with pytest.raises(ValueError, match=words) as info:
        make_run(model, "triangles", 0, arch=arch)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("shape, arch, words", [
    ((30, 30, 1), "lapgan", "divisible by 4"),
    ((48, 48, 3), "sngan", "28x28, 32x32 and 64x64"),
    ((24, 24, 1), "dcgan", "4 \\* 2\\^n or 7 \\* 2\\^n"),
])
def test_shapes_an_architecture_cannot_take_are_one_line(shape, arch, words):
    with pytest.raises(ValueError, match=words) as info:
        models.check_architecture(arch, shape, "toy")
    assert "\n" not in str(info.value)


def test_architectures_are_a_study_axis():
    study = build_study("custom", profile="smoke", models=["ns_gan", "dcgan"],
                        datasets=["triangles"], space="default", arch=["infogan", "dcgan"])
    assert [r.run_id for r in study.runs] == [
        "ns_gan_triangles_c000_s0", "ns_gan_arch-dcgan_triangles_c000_s0",
        "dcgan_arch-infogan_triangles_c000_s0", "dcgan_triangles_c000_s0"]
    sn = build_study("custom", profile="smoke", models=["ns_gan"], datasets=["triangles"],
                     space="default", spectral_norm=True)
    assert [r.arch for r in sn.runs] == ["infogan+sn"]


def test_tables_group_by_model_and_architecture():
    rows = pd.DataFrame([
        {"run_id": "a", "step": 1, "dataset": "triangles", "model": "ns_gan",
         "arch": "infogan", "f1": 0.3, "failed": False},
        {"run_id": "b", "step": 1, "dataset": "triangles", "model": "ns_gan",
         "arch": "dcgan", "f1": 0.5, "failed": False},
        {"run_id": "c", "step": 1, "dataset": "triangles", "model": "dcgan",
         "arch": "dcgan", "f1": 0.4, "failed": False}])
    table = summary(rows)
    assert list(zip(table["model"], table["arch"], strict=True)) == [
        ("ns_gan", "infogan"), ("ns_gan", "dcgan"), ("dcgan", "dcgan")]
    text = format_summary(table)
    assert "| NS GAN | 1 (0) | 0.300 |" in text and "| NS GAN [dcgan] | 1 (0) | 0.500 |" in text
    assert "| DCGAN | 1 (0) | 0.400 |" in text


def test_sweep_arch_and_archs_together_is_one_line(tmp_path, capsys):
    code = cli.main(["sweep", "--study", "custom", "--models", "ns_gan", "--arch", "dcgan",
                     "--archs", "infogan,dcgan", "--profile", "smoke",
                     "--results-dir", str(tmp_path / "x"), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "--archs" in err
    assert not (tmp_path / "x").exists()


@pytest.mark.slow
def test_every_new_model_trains_and_reports_its_latent_space(tmp_path, cheap_metrics):
    """A smoke study of the four models and NS GAN with a spectrally normalised D: every run
    trains, and the report holds each model's latent walk and nearest training images (and
    GRAN's canvas strip) beside the montage. P/R/F1's inversion (a compilation through each
    G, minutes here) gives way to a cheap exact metric (conftest.cheap_metrics): the report's
    pictures are what is tested."""
    out = tmp_path / "new"
    # quarter width (the models' CPU-preview option): the same layers and report, a quarter
    # of the channels, so the smoke steps and evaluations cost seconds, not minutes
    assert cli.main(["train", "--model", "dcgan,sngan,gran,lapgan", "--option", "width=quarter",
                     "--profile", "smoke", "--results-dir", str(out), "--no-progress"]) == 0
    assert cli.main(["train", "--model", "ns_gan", "--spectral-norm", "--profile", "smoke",
                     "--results-dir", str(tmp_path / "sn"), "--no-progress"]) == 0
    from benchmark.runner.results import load_rows

    rows = load_rows(out)
    assert set(rows["model"]) == {"dcgan", "sngan", "gran", "lapgan"}
    assert rows["d_loss"].notna().all() and not rows["failed"].any()
    report = out / "report"
    for model in ("dcgan", "sngan", "gran", "lapgan"):
        assert (report / f"latent_walk_triangles_{model}.png").is_file()
        assert (report / f"nearest_triangles_{model}.png").is_file()
    assert (report / "canvas_triangles_gran.png").is_file()
    assert set(load_rows(tmp_path / "sn")["arch"]) == {"infogan+sn"}
    jax.clear_caches()


def test_tables_tell_a_models_option_variants_apart():
    """Runs of one model with other static options (ALI is BiGAN with encoder=stochastic)
    are separate rows, titled by their non-default options; runs at the defaults keep the
    plain title, and a table without variants gains no options column."""
    rows = pd.DataFrame([
        {"run_id": "a", "step": 1, "dataset": "mnist", "model": "bigan", "arch": "bigan",
         "encoder": "deterministic", "d_pass": "separate", "fid": 170.0, "failed": False},
        {"run_id": "b", "step": 1, "dataset": "mnist", "model": "bigan", "arch": "bigan",
         "encoder": "stochastic", "d_pass": "separate", "fid": 110.0, "failed": False},
        {"run_id": "c", "step": 1, "dataset": "mnist", "model": "bigan", "arch": "bigan",
         "encoder": "stochastic", "d_pass": "separate", "fid": 100.0, "failed": False}])
    table = summary(rows)
    assert list(table["options"]) == ["", "encoder=stochastic"]
    assert list(table["n_runs"]) == [1, 2] and list(table["fid_mean"]) == [170.0, 105.0]
    text = format_summary(table)
    assert "| BiGAN | 1 (0) |" in text and "| BiGAN [encoder=stochastic] | 2 (0) |" in text
    assert "options" not in summary(rows.iloc[:1]).columns
