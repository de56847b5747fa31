"""Options for fidelity to compare_gan v1 that act outside the losses (docs/protocol.md §9):
the numerical precision of training and evaluation (§4.8, §9.7), FID's reference split
(§7.3, §9.6), and their command-line flags, rows and fingerprints.

No GPU is needed or used: on CPU float32 and tf32 compute the same; what is checked is that
the chosen precision reaches the traced programs (jax's matmul-precision setting while
``train_segment`` and the metrics run, and the precision config of the lowered StableHLO).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from benchmark import data
from benchmark import training as train
from benchmark.cli import main as cli
from benchmark.data import ImageDataset
from benchmark.errors import UserError
from benchmark.evaluation import fid_features
from benchmark.evaluation.evaluator import Evaluator, fid_reference_split
from benchmark.runner import engine
from benchmark.runner.results import load_rows
from metrics import features
from metrics import fid as fid_metric
from metrics.base import Column, Generators, Metric
from sweeps import config as configs
from sweeps.runs import Study, make_run

SMALL = train.Structure("ns_gan", (8, 8, 1), batch_size=8)
PLAN = train.default_plan("cpu")
TINY = configs.derive({"schedule.steps": 4, "schedule.eval_every": 2, "evaluation.grid_size": 4,
                       "evaluation.metrics.precision_recall.samples": 20,
                       "evaluation.metrics.fid.samples": 64}, name="tiny")


def _small_runs():
    states = train.init_runs(SMALL, 16, np.array([0]))
    hps = {"lr": jnp.asarray([1e-4]), "beta1": jnp.asarray([0.5])}
    data_ = jnp.asarray(np.random.default_rng(0).integers(0, 256, (16, 8, 8, 1), np.uint8))
    return states, hps, data_


# --- precision -------------------------------------------------------------------------------


def test_profiles_default_to_full_float32_and_check_their_fields():
    profiles = [configs.resolve(name) for name in configs.PROFILES]
    assert all(p.fidelity.matmul_precision == "float32" for p in profiles)
    assert all(p.fidelity.fid_reference == "default" for p in profiles)
    with pytest.raises(ValueError, match="--precision bf16 is not one of: float32, tf32"):
        configs.override(TINY, {"fidelity.matmul_precision": "bf16"})
    with pytest.raises(ValueError, match="--fid-reference train is not one of"):
        configs.override(TINY, {"fidelity.fid_reference": "train"})


@pytest.mark.parametrize("precision, ours, absent", [
    ("float32", "[HIGHEST, HIGHEST]", "DEFAULT"),
    ("tf32", "[HIGH, HIGH]", "HIGHEST"),
])
def test_the_lowered_training_program_carries_the_precision(precision, ours, absent):
    """Every matrix product (dot_general) and convolution of one training step is lowered with
    the precision's config; without the context jax leaves them at DEFAULT (TF32 on GPUs)."""
    states, hps, data_ = _small_runs()

    def lowered() -> str:
        return train.train_segment.lower(
            states, hps, data_, jnp.int32(0), structure=SMALL, scale=1 / 255, num_steps=1,
            unroll=True, branch=False).as_text()

    assert "precision = [DEFAULT, DEFAULT]" in lowered()  # jax's default
    with train.matmul_precision(precision):
        text = lowered()
    assert text.count("dot_general") == text.count(f"precision = {ours}") > 0
    assert "convolution" in text and absent not in text


@pytest.mark.parametrize("precision, jax_name", [("float32", "float32"),
                                                 ("tf32", "tensorfloat32")])
def test_the_trainer_runs_its_segments_at_its_precision(monkeypatch, precision, jax_name):
    from benchmark.training import plan as plan_module

    seen = []
    real = plan_module.train_segment

    def spy(*args, **kwargs):
        seen.append(jax.config.jax_default_matmul_precision)
        return real(*args, **kwargs)

    monkeypatch.setattr(plan_module, "train_segment", spy)
    states, hps, data_ = _small_runs()
    trainer = train.Trainer(SMALL, PLAN, precision)
    trainer.advance(states, hps, data_, 1 / 255, 0, 1)
    assert seen == [jax_name]
    assert train.Trainer(SMALL, PLAN).precision == "float32"  # the default
    assert jax.config.jax_default_matmul_precision is None  # only inside the context


def test_the_evaluation_runs_at_the_profiles_precision(monkeypatch):
    seen = []

    def probe(generators, context):
        seen.append(jax.config.jax_default_matmul_precision)
        return {"probe": np.zeros(1)}

    metric = Metric("probe", (Column("probe", higher_is_better=True),),
                    applies_to=lambda spec: True, evaluate=probe)
    monkeypatch.setattr("benchmark.evaluation.evaluator.METRICS", {"probe": metric})
    images = np.zeros((16, 8, 8, 1), np.uint8)
    ds = ImageDataset("triangles", images, images)
    states, _, _ = _small_runs()
    for precision, jax_name in (("float32", "float32"), ("tf32", "tensorfloat32")):
        profile = configs.override(TINY, {"fidelity.matmul_precision": precision})
        Evaluator(data.get("triangles"), ds, profile).metrics(SMALL, states, last=True)
        assert seen[-1] == jax_name


def test_precision_is_a_row_column_and_part_of_the_fingerprint(tmp_path, monkeypatch):
    def metrics(self, structure, states, last):  # no scores needed here
        return {}

    monkeypatch.setattr(Evaluator, "metrics", metrics)
    run = make_run("ns_gan", "triangles", 0)
    tf32 = configs.override(TINY, {"fidelity.matmul_precision": "tf32"})
    study = Study("p", (run,), tf32)
    assert study.fingerprint() != Study("p", (run,), TINY).fingerprint()
    engine.run_study(study, tmp_path, progress=False)
    rows = load_rows(tmp_path)
    assert list(rows["matmul_precision"]) == ["tf32", "tf32"]


# --- FID's reference split -------------------------------------------------------------------


def _tiny_celeba() -> ImageDataset:
    """A fake CelebA whose test images are dark and validation images bright."""
    rng = np.random.default_rng(0)

    def split(n, lo, hi):
        return rng.integers(lo, hi, (n, 64, 64, 3), dtype=np.uint8)

    return ImageDataset("celeba", split(8, 0, 256), split(40, 0, 128),
                        validation=split(40, 128, 256))


def _pixel_features(dataset, data_dir=None):
    """A cheap exact extractor: four pixel statistics."""

    def fn(params, x):
        feats = jnp.stack([x.mean(axis=(1, 2, 3)), x[:, 0, 0, 0], x[:, 5, 5, 1], x[:, 9, 3, 2]],
                          axis=1)
        return feats, None

    return features.FeatureExtractor("lenet", fn, {}, f"fake-{dataset}", "none", (64, 64, 3))


@pytest.mark.parametrize("choice, expected", [("default", "validation"),
                                              ("validation", "validation"),
                                              ("test", "test")])
def test_celeba_fid_reference_is_the_chosen_split(tmp_path, monkeypatch, choice, expected):
    """CelebA's reference is the validation partition by default (v1's), the test partition
    on request; the reference statistics are of that split's first images, and the FID
    metric writes the split in the ``fid_reference`` column."""
    monkeypatch.setenv("GAN_BENCHMARK_CACHE", str(tmp_path))
    monkeypatch.setattr(fid_features, "lenet_extractor", _pixel_features)
    seen = []
    real = fid_features.reference_statistics

    def spy(name, images, extractor, *, split, **kwargs):
        seen.append((split, np.array(images)))
        return real(name, images, extractor, split=split, **kwargs)

    monkeypatch.setattr(fid_features, "reference_statistics", spy)
    ds = _tiny_celeba()
    assert data.get("celeba").fid_reference_split == "validation"
    profile = configs.override(TINY, {"evaluation.metrics.fid.samples": 32,
                                      "fidelity.fid_reference": choice,
                                      "evaluation.fid_feature": "lenet"})
    evaluator = Evaluator(data.get("celeba"), ds, profile)
    assert evaluator.reference(32).statistics.split == expected
    [(split, images)] = seen
    assert split == expected
    np.testing.assert_array_equal(images, ds.as_float(ds.split(expected)[:32]))

    def apply_fn(variables, z):  # a "generator": grey images whose level follows z
        level = jax.nn.sigmoid(variables["w"] * z[:, :1])
        return jnp.broadcast_to(level[:, :, None, None], (z.shape[0], 64, 64, 3))

    generators = Generators(apply_fn, {"w": jnp.asarray([1.0, 3.0])}, 64, "uniform")
    out = fid_metric.METRIC.evaluate(generators, evaluator.context(fid_metric.METRIC))
    assert out["fid_reference"] == expected and out["fid_feature"] == "lenet"
    assert out["fid"].shape == (2,) and np.isfinite(out["fid"]).all()


def test_a_reference_split_the_data_set_lacks_is_a_user_error(tmp_path, capsys, monkeypatch):
    assert fid_reference_split(data.get("mnist"), "default") == "test"
    assert fid_reference_split(data.get("mnist"), "test") == "test"
    assert fid_reference_split(data.get("triangles"), "test") is None  # not scored with FID
    with pytest.raises(UserError, match="mnist has no 'validation' split"):
        fid_reference_split(data.get("mnist"), "validation")
    monkeypatch.chdir(tmp_path)
    args = ["train", "--model", "ns_gan", "--dataset", "mnist", "--profile", "smoke",
            "--fid-reference", "validation", "--no-progress"]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: mnist has no 'validation' split") and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


# --- the command line ------------------------------------------------------------------------


def test_cli_fidelity_flags_reach_the_profile_and_the_runs():
    parser = cli.build_parser()
    args = parser.parse_args(["train", "--model", "wgan", "--profile", "smoke"])
    # v1's behaviour by default: the smoke profile as it is (train's study section aside)
    assert cli._config(args) == configs.for_study(configs.resolve("smoke"), "custom")
    assert {r.g_schedule for r in cli._train_study(args).runs} == {"v1"}
    args = parser.parse_args(["train", "--model", "wgan", "--profile", "smoke",
                              "--precision", "tf32", "--fid-reference", "test",
                              "--g-schedule", "modulo"])
    profile = cli._config(args)
    assert (profile.fidelity.matmul_precision, profile.fidelity.fid_reference) == ("tf32", "test")
    assert profile.name == "smoke[fid_reference=test,matmul_precision=tf32]"
    assert profile.fidelity.g_schedule == "modulo"  # a run column, not in the name
    assert {r.g_schedule for r in cli._train_study(args).runs} == {"modulo"}
    with pytest.raises(UserError, match="invalid choice: 'bf16'"):
        parser.parse_args(["train", "--model", "wgan", "--precision", "bf16"])


# --- the protocol document -------------------------------------------------------------------


def test_every_protocol_citation_names_a_section():
    """Code, tests and documents cite docs/protocol.md by section (§N or §N.M): each cited
    section exists, and no Python file cites the shared summary (PROTOCOL.md, outside the
    repository) instead."""
    root = Path(__file__).resolve().parents[2]
    doc = (root / "docs" / "protocol.md").read_text()
    sections = set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)[. ]", doc, re.M))
    files = subprocess.run(["git", "ls-files", "*.py", "*.md"], cwd=root, capture_output=True,
                           text=True, check=True).stdout.split()
    assert "docs/protocol.md" in files and len(sections) > 50
    for name in files:
        text = (root / name).read_text()
        for cited in re.findall(r"§(\d+(?:\.\d+)?)", text):
            assert cited.rstrip(".") in sections, (name, cited)
        if name.endswith(".py"):
            assert re.search(r"\bPROTOCOL\b(?!\.md)", text) is None, name
