"""The counted bound (benchmark.tools.bound) and the study plan (benchmark.tools.planning):
arithmetic on known counts, XLA's count of a known matrix product, and the plan's figures for known
studies (docs/speed.md)."""

from __future__ import annotations

import json
import math

import jax
import jax.numpy as jnp
import pytest

from benchmark.errors import UserError
from benchmark.tools import bound, planning
from sweeps.config import resolve


def _count(model="ns_gan", shape="28x28x1", flops=1e12, bytes_=1e9, per_run=250e6,
           fixed=100e6, num_train=60_000) -> bound.Count:
    return bound.Count(model, shape, 1, flops, bytes_, flops, bytes_, 0.0, 160e6, fixed,
                       per_run, num_train, 1.0, "cpu", jax.__version__)


@pytest.fixture
def counts_only(tmp_path, monkeypatch):
    """A cache holding synthetic counts and no shipped table: nothing is compiled."""
    monkeypatch.setenv("GAN_BENCHMARK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(bound, "SHIPPED", tmp_path / "none.json")

    def put(counts):
        bound.write_counts(bound.cache_path(), counts)

    return put


def test_xla_counts_a_matrix_product_exactly():
    a = jax.ShapeDtypeStruct((64, 1024), jnp.float32)
    b = jax.ShapeDtypeStruct((1024, 6272), jnp.float32)
    flops, bytes_, _ = bound._costs(jax.jit(jnp.dot).lower(a, b).compile())
    assert flops == 2 * 64 * 1024 * 6272
    assert bytes_ >= 4 * (64 * 1024 + 1024 * 6272 + 64 * 6272)  # each operand read, out written


def test_bound_takes_the_larger_of_compute_and_memory_time():
    h100 = bound.PEAKS["h100"]
    compute_heavy = _count(flops=67e9, bytes_=1e6)  # 1 ms of FP32 compute, 0.3 us of memory
    assert compute_heavy.bound(h100, "fp32") == pytest.approx((1000.0, "compute"))
    memory_heavy = _count(flops=1e6, bytes_=3.35e9)  # 1 ms at 3.35 TB/s
    assert memory_heavy.bound(h100, "tf32") == pytest.approx((1000.0, "memory"))
    # TF32's peak is the data sheet's sparse figure halved
    assert _count(flops=494.5e9, bytes_=1.0).bound(h100, "tf32")[0] == pytest.approx(1000.0)


def test_max_runs_is_the_memory_line_solved_for_r():
    c = _count(per_run=250e6, fixed=100e6)
    assert c.max_runs(80e9) == math.floor((80e9 - 100e6) / 250e6) == 319
    assert c.group_bytes(319) <= 80e9 < c.group_bytes(320)
    assert _count(per_run=1e12).max_runs(80e9) == 0


def test_counts_round_trip_and_other_versions_are_dropped(tmp_path):
    path = tmp_path / "c.json"
    counts = [_count(), bound.ImageCount("inception", 11.3e9, 2.5e8)]
    bound.write_counts(path, counts)
    assert list(bound._read(path).values()) == [counts[0], counts[1]]
    raw = json.loads(path.read_text())
    raw["counts"][0]["version"] = bound.COUNT_VERSION + 1
    path.write_text(json.dumps(raw))
    assert list(bound._read(path)) == ["inception"]
    path.write_text("{not json")
    assert bound._read(path) == {}


def test_counts_for_reuses_cached_counts_without_compiling(counts_only, monkeypatch):
    counts_only([_count("ns_gan"), _count("vae")])
    monkeypatch.setattr(bound, "count", lambda *a, **k: pytest.fail("compiled"))
    got = bound.counts_for(["vae", "ns_gan"], [(28, 28, 1)])
    assert [c.model for c in got] == ["vae", "ns_gan"]
    assert "| ns_gan | 28x28x1 |" in bound.table(got)


def test_shape_parsing():
    assert bound.parse_shape("64x64x3") == (64, 64, 3)
    with pytest.raises(UserError, match="HxWxC"):
        bound.parse_shape("64x64")
    assert bound.train_size((28, 28, 1)) == 60_000  # MNIST and Fashion-MNIST
    assert bound.train_size((32, 32, 3)) == 50_000  # CIFAR-10


def _plan_counts(flops=1e12):
    return [_count(m, "28x28x1", flops=flops, bytes_=1.0) for m in ("ns_gan", "wgan")] + [
        bound.ImageCount("inception", 10e9, 1.0),
        bound.ImageCount("generator@28x28x1", 20e6, 1.0)]


def test_plan_of_phase1_on_mnist_on_the_bound(counts_only):
    counts_only(_plan_counts())
    h100 = bound.PEAKS["h100"]
    study = planning.study_of("phase1", resolve("paper"), ["mnist"], ["ns_gan", "wgan"])
    lines = planning.plan_study(study, gpu=h100, precision="float32", throughput=None)
    assert [(x.dataset, x.model) for x in lines] == [("mnist", "ns_gan"), ("mnist", "wgan")]
    ns = lines[0]
    assert ns.runs == 100  # 100 configurations x seed 0
    assert ns.run_steps == 100 * 15_625
    # evaluations every 3,906 steps and at the end: 3906, 7812, 11718, 15624, 15625
    assert ns.evaluations == 100 * 5
    assert ns.fid_images == 100 * 5 * 10_000 and ns.prf_targets == 0
    assert ns.source == "bound"
    assert ns.train_hours == pytest.approx(ns.run_steps / (67e12 / 1e12) / 3600)
    assert ns.eval_hours == pytest.approx(ns.fid_images * (10e9 + 20e6) / 67e12 / 3600)
    assert ns.groups >= 1 and ns.largest_group <= 100
    # the train split of MNIST replaces the counted data set in the group's memory
    assert ns.group_bytes == pytest.approx(100e6 + 250e6 * ns.largest_group)
    text = planning.summary(lines, h100, "float32", None)
    assert any(line.startswith("NOTE: rows marked 'bound'") for line in text)
    assert text[-1].startswith("goal: ") and "(this selection" in text[-1]


def test_phase3_plans_fifty_seeds_per_model_and_data_set(counts_only):
    counts_only(_plan_counts())
    study = planning.study_of("phase3", resolve("paper"), ["triangles"], ["ns_gan"])
    (line,) = planning.plan_study(study, gpu=bound.PEAKS["a100"], precision="tf32",
                                  throughput=None)
    assert (line.runs, line.groups, line.largest_group) == (50, 1, 50)
    assert line.fid_images == 0  # the triangles are scored with P/R/F1
    assert line.prf_targets == 50 * 5 * 1000  # N = 1000 at every evaluation (paper profile)


def test_plan_uses_a_measured_table_and_scales_what_it_lacks(counts_only, tmp_path):
    counts_only(_plan_counts())
    table = tmp_path / "throughput.json"
    table.write_text(json.dumps({
        "device": "NVIDIA H100 80GB HBM3",
        "training": [{"model": "ns_gan", "shape": "28x28x1", "precision": "float32",
                      "runs": r, "run_steps_per_s": v} for r, v in ((1, 100.0), (16, 900.0),
                                                                    (64, 2000.0))],
        "fid_images_per_s": {"float32": 1000.0}}))
    measured = planning.Throughput.read(table)
    assert measured.rate("ns_gan", "28x28x1", "float32", 20) == 900.0  # largest R <= 20
    assert measured.rate("ns_gan", "28x28x1", "float32", 500) == 2000.0
    assert measured.rate("ns_gan", "28x28x1", "tf32", 20) is None
    assert planning.same_gpu(bound.PEAKS["h100"], measured.device)
    study = planning.study_of("phase3", resolve("paper"), ["mnist"], ["ns_gan", "wgan"])
    ns, wgan = planning.plan_study(study, gpu=bound.PEAKS["h100"], precision="float32",
                                   throughput=measured)
    assert ns.source == "measured" and wgan.source == "scaled"
    assert ns.train_hours == pytest.approx(50 * 15_625 / 900.0 / 3600)  # R = 50: the 16 row
    assert ns.eval_hours == pytest.approx(
        ns.fid_images * (1 / 1000.0 + 20e6 / 67e12) / 3600)


def test_unreadable_throughput_table_is_one_line(tmp_path):
    bad = tmp_path / "t.json"
    bad.write_text("[]")
    with pytest.raises(UserError, match="cannot read the throughput table"):
        planning.Throughput.read(bad)


def test_bench_saves_a_table_that_plan_reads(tmp_path, monkeypatch, capsys):
    from benchmark.tools import bench

    def fake(model, runs, *, segment, repeats):  # nothing is trained or timed
        return bench.BenchResult(runs, 1.0, 10.0 * runs, 100.0 * runs, None)

    monkeypatch.setattr(bench, "measure", fake)
    path = tmp_path / "t.json"
    bench.main(["--runs", "1,4", "--save", str(path)])
    table = planning.Throughput.read(path)
    assert table.rate("ns_gan", "28x28x1", "float32", 3) == 100.0
    assert table.rate("ns_gan", "28x28x1", "float32", 64) == 400.0
    assert f"wrote {path}" in capsys.readouterr().out


# --- the registered models beyond the paper's eight: labelled (cgan), encoder (bigan) ----------


def test_labelled_models_get_the_engines_structure_and_labels():
    """The tools build a step's inputs as the engine does: ``Structure.of`` with the data
    set's classes, and labels only where the model's recipe needs them."""
    _, cgan = bound.setup("cgan", (28, 28, 1))
    _, bigan = bound.setup("bigan", (28, 28, 1))
    assert cgan.needs_labels and cgan.num_classes == 10  # MNIST's, at 28x28x1
    assert not bigan.needs_labels and bigan.num_classes is None
    labels = bound.train_labels(cgan, 256)
    assert labels.shape == (256,) and labels.dtype == jnp.int32
    assert 0 <= int(labels.min()) and int(labels.max()) < 10
    assert bound.train_labels(bigan, 256) is None


def test_bound_skips_a_shape_an_architecture_rejects_with_one_line(tmp_path, monkeypatch,
                                                                    capsys):
    monkeypatch.setenv("GAN_BENCHMARK_CACHE", str(tmp_path / "cache"))
    bound.main(["--models", "lapgan,dcgan", "--shapes", "30x30x1"])  # nothing is compiled
    out = capsys.readouterr().out
    assert "skipped lapgan at 30x30x1: LAPGAN: a 3-level pyramid" in out
    assert "skipped dcgan at 30x30x1: DCGAN needs an image side" in out
    assert "(0 counts in" in out
    with pytest.raises(bound.Unsupported, match="lapgan at 30x30x1"):
        bound.count("lapgan", (30, 30, 1))


@pytest.mark.slow
def test_bound_counts_a_labelled_and_an_encoder_model(tmp_path, monkeypatch):
    """cgan and bigan go through the bound at 28x28x1 (two runs vmapped: smoke size). CGAN
    is NS GAN's loss with the labels fed to G and D, so its step costs more FLOPs than NS
    GAN's; BiGAN trains an encoder besides G and D."""
    monkeypatch.setenv("GAN_BENCHMARK_CACHE", str(tmp_path / "cache"))
    ns_gan = bound.count("ns_gan", (28, 28, 1), vmapped=2)
    cgan = bound.count("cgan", (28, 28, 1), vmapped=2)
    bigan = bound.count("bigan", (28, 28, 1), vmapped=2)
    for c in (ns_gan, cgan, bigan):
        assert c.flops > 0 and c.bytes_accessed > 0 and c.state_bytes > 0
        assert c.per_run_bytes > 0 and c.max_runs(80e9) > 0
    assert cgan.flops > ns_gan.flops
    assert bigan.state_bytes > ns_gan.state_bytes  # the encoder's parameters and moments
    text = bound.table([ns_gan, cgan, bigan])
    assert all(f"| {m} | 28x28x1 | 1 |" in text for m in ("ns_gan", "cgan", "bigan"))


@pytest.mark.slow
@pytest.mark.parametrize("model", ["cgan", "bigan"])
def test_bench_trains_a_labelled_and_an_encoder_model(model):
    """One run, one step per call, once (structure only: nothing timed is asserted)."""
    from benchmark.tools import bench

    res = bench.measure(model, 1, segment=1, repeats=1, num_train=128)
    assert res.runs == 1 and res.run_steps_per_s > 0 and res.compile_s > 0


def test_bench_skips_a_model_its_architecture_rejects(monkeypatch):
    from benchmark.tools import bench

    monkeypatch.setattr(bench.bound, "unsupported", lambda s: f"{s.model} at 28x28x1: no")
    with pytest.raises(bound.Unsupported, match="lapgan at 28x28x1: no"):
        bench.measure("lapgan", 1, segment=1, repeats=1, num_train=128)


def test_plan_covers_registered_models_and_says_which_it_leaves_out(counts_only, capsys):
    counts_only(_plan_counts() + [_count("cgan", flops=2e12, bytes_=1.0)])
    notes: list[str] = []
    study = planning.study_of("phase3", resolve("paper"), ["mnist", "triangles"],
                              ["ns_gan", "cgan", "bigan"])
    lines = planning.plan_study(study, gpu=bound.PEAKS["h100"], precision="float32",
                                throughput=None, notes=notes)
    assert [(x.dataset, x.model) for x in lines] == [("mnist", "ns_gan"), ("mnist", "cgan"),
                                                     ("triangles", "ns_gan")]
    cgan, ns = lines[1], lines[0]
    assert cgan.runs == 50 and cgan.train_hours == pytest.approx(2 * ns.train_hours)
    assert notes == [
        "cgan on triangles left out: model 'cgan' needs labels, which data set 'triangles' "
        "does not offer",
        "bigan on mnist left out: no bound count for bigan at 28x28x1 (python -m benchmark "
        "bound --models bigan --shapes 28x28x1)",
        "bigan on triangles left out: no bound count for bigan at 28x28x1 (python -m "
        "benchmark bound --models bigan --shapes 28x28x1)"]
    planning.main(["--study", "all", "--datasets", "mnist", "--models", "cgan,bigan"])
    out = capsys.readouterr().out
    assert "| phase3 | mnist | cgan | 50 |" in out and "| phase1 | mnist | cgan |" in out
    assert "note (phase1, phase2, phase3): bigan on mnist left out: no bound count" in out
    with pytest.raises(UserError, match="nothing to plan"):
        planning.main(["--study", "phase3", "--datasets", "mnist", "--models", "bigan"])
