"""The prepared GPU check's structure (benchmark.tools.gpu_check), on CPU: items in order within the
budget, every finished figure kept when an item is cut, the report and the throughput table
that ``plan`` reads. Nothing here is timed."""

from __future__ import annotations

import json

import pytest

from benchmark.tools import gpu_check, planning


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _train_record(runs, rate, precision="float32", model="ns_gan"):
    return dict(kind="train", model=model, shape="28x28x1", precision=precision,
                device="NVIDIA H100 80GB HBM3", runs=runs, compile_s=2.0, step_ms=1.0,
                run_steps_per_s=rate, program_bytes=2**30, peak_bytes=2**31, segment=50)


def test_items_put_the_main_figure_first_and_cover_the_issue():
    work = gpu_check.items()
    assert work[0] == gpu_check.Item("train", "ns_gan", "28x28x1", "float32", (1, 16, 64, 256))
    trained = {(i.model, i.shape, i.precision) for i in work if i.kind == "train"}
    for model in ("ns_gan", "wgan_gp", "began", "vae"):
        assert {(model, "28x28x1", p) for p in ("float32", "tf32")} <= trained
    assert {("ns_gan", s, "float32") for s in ("32x32x3", "64x64x3")} <= trained
    assert {(i.procs, i.precision) for i in work if i.kind == "peer"} == {
        (1, "float32"), (8, "float32"), (1, "tf32"), (8, "tf32")}
    assert any(i.kind == "fid" and i.shape == "250" for i in work)
    assert any(i.grow and i.model == "ns_gan" for i in work)


def test_the_check_stops_at_the_budget_and_keeps_what_finished(tmp_path):
    clock = FakeClock()
    calls = []

    def runner(item, out, timeout, tiny, peer):
        calls.append((item.label, timeout))
        if item.kind == "train" and len(calls) == 1:
            gpu_check.append_record(out / gpu_check.RECORDS, _train_record(1, 100.0))
            gpu_check.append_record(out / gpu_check.RECORDS, _train_record(16, 900.0))
            clock.now += 300.0
            return "cut"  # killed at its timeout, after two R values
        clock.now += 160.0
        return "done"

    outcomes = gpu_check.check(tmp_path, 480.0, runner=runner, clock=clock, log=lambda s: None)
    work = gpu_check.items()
    # the first item got the whole budget less the reserve, the second what was left
    assert calls[0] == (work[0].label, 480.0 - gpu_check.RESERVE_S)
    assert calls[1] == (work[1].label, 180.0 - gpu_check.RESERVE_S)
    assert len(calls) == 2  # 15 s left after the reserve: below MIN_ITEM_S, nothing started
    assert outcomes[work[0].label] == "cut" and outcomes[work[1].label] == "done"
    assert all(outcomes[i.label] == "skipped: budget" for i in work[2:])
    table = json.loads((tmp_path / gpu_check.THROUGHPUT).read_text())
    assert [r["runs"] for r in table["training"]] == [1, 16]
    report = (tmp_path / gpu_check.REPORT).read_text()
    assert "# GPU check on NVIDIA H100 80GB HBM3" in report
    assert "| ns_gan | 28x28x1 | float32 | 16 |" in report
    assert f"- {work[2].label}: skipped: budget" in report
    # plan reads what the check wrote
    measured = planning.Throughput.read(tmp_path / gpu_check.THROUGHPUT)
    assert measured.rate("ns_gan", "28x28x1", "float32", 50) == 900.0


def test_report_shows_oom_peer_ratio_fid_and_the_fraction_of_the_bound(tmp_path):
    from tests.tools.test_capacity import _count

    records = [_train_record(1, 67.0), _train_record(512, 0.0) | {"oom": True},
               dict(kind="peer", procs=1, precision="float32", run_steps_per_s=50.0),
               dict(kind="peer", procs=8, precision="float32", skipped="no torch"),
               dict(kind="fid", impl="ours", precision="float32", batch=250,
                    images_per_s=2000.0),
               dict(kind="fid", impl="pytorch-fid", batch=250, skipped="not importable")]
    counts = {"ns_gan@28x28x1": _count(flops=1e12, bytes_=1.0)}  # bound: 67 run-steps/s
    text = gpu_check.report(records, {}, gpu_check.items(), 480.0, 100.0, counts)
    assert "| ns_gan | 28x28x1 | float32 | 1 | 2.0 | 1.00 | 67.0 | 2.00 | 1.00 | 100.0% |" \
        in text
    assert "| ns_gan | 28x28x1 | float32 | 512 | out of memory |" in text
    assert "| 1 | float32 | 50.0 | 67.0 (R=1) | 1.34 |" in text
    assert "| 8 | float32 | no torch | | |" in text
    assert "| ours | float32 | 250 | 2,000.0 |" in text
    assert "| pytorch-fid |  | 250 | not importable |" in text
    table = gpu_check.throughput_table(records)
    assert table["fid_images_per_s"] == {"float32": 2000.0}
    assert [r["runs"] for r in table["training"]] == [1]  # the OOM is not a throughput


def test_torn_record_lines_are_skipped(tmp_path):
    path = tmp_path / "r.jsonl"
    gpu_check.append_record(path, {"a": 1})
    with open(path, "a") as f:
        f.write('{"b": ')  # a writer killed mid-line
    assert gpu_check.read_records(path) == [{"a": 1}]


@pytest.mark.parametrize("budget", [6.0])
def test_the_real_command_on_cpu_writes_its_report_within_a_few_seconds(tmp_path, budget):
    """Tiny sizes, real worker processes, a budget of a few seconds: the first item is cut
    (compiling alone takes longer on CPU), the rest skipped, and the report and table are
    written all the same."""
    out = tmp_path / "check"
    gpu_check.main(["--tiny", "--budget", str(budget), "--out", str(out),
                    "--peer", str(tmp_path / "missing.py")])
    report = (out / gpu_check.REPORT).read_text()
    assert "## Items" in report and "skipped: budget" in report
    assert json.loads((out / gpu_check.THROUGHPUT).read_text())["training"] == []


def test_the_search_for_the_largest_r_starts_where_the_count_says_it_fits(monkeypatch):
    from tests.tools.test_capacity import _count

    class Device:
        def __init__(self, limit):
            self.limit = limit

        def memory_stats(self):
            return {"bytes_limit": self.limit} if self.limit else None

    c = _count(per_run=250e6, fixed=100e6)  # 80 GB: (80e9 - 100e6) / 250e6 = 319 runs
    monkeypatch.setattr(gpu_check.bound, "known_counts", lambda *a: {c.key: c})
    item = gpu_check.Item("train", "ns_gan", "28x28x1", grow=True)
    assert gpu_check._first_large_r(item, Device(80e9), 256) == 304  # 319 down to 16s
    assert gpu_check._first_large_r(item, Device(40e9), 256) == 512  # count below: double
    assert gpu_check._first_large_r(item, Device(None), 256) == 512  # CPU: no limit known


def test_more_models_are_trained_last():
    work = gpu_check.items(models=["cgan", "bigan"])
    assert work[:-2] == gpu_check.items()
    assert work[-2:] == [gpu_check.Item("train", m, "28x28x1", "float32", (1, 64, 256))
                         for m in ("cgan", "bigan")]
    tiny = gpu_check.items(tiny=True, models=["cgan"])
    assert tiny[-1] == gpu_check.Item("train", "cgan", "28x28x1", "float32", (1,))


def test_a_skipped_model_is_reported_with_its_reason():
    records = [_train_record(1, 10.0, model="cgan"),
               dict(kind="train", model="lapgan", shape="30x30x1", precision="float32",
                    skipped="lapgan at 30x30x1: LAPGAN: a 3-level pyramid needs ...")]
    text = gpu_check.report(records, {}, gpu_check.items(models=["cgan"]), 480.0, 1.0, {})
    assert "| cgan | 28x28x1 | float32 | 1 |" in text
    assert "| lapgan | 30x30x1 | float32 | | skipped: lapgan at 30x30x1: LAPGAN" in text
    assert [r["model"] for r in gpu_check.throughput_table(records)["training"]] == ["cgan"]
    assert "- train cgan 28x28x1 float32 R=1,64,256: not reached" in text


@pytest.mark.slow
@pytest.mark.parametrize("model", ["cgan", "bigan"])
def test_the_worker_trains_a_labelled_and_an_encoder_model(tmp_path, model):
    """The train item of a labelled (labels drawn with the images) and an encoder model, in
    this process at tiny sizes: its records (structure only: nothing timed is asserted)."""
    records = tmp_path / gpu_check.RECORDS
    gpu_check.worker(gpu_check.Item("train", model, "28x28x1", runs=(1,)), records,
                     tiny=True, peer=None)
    got = gpu_check.read_records(records)
    assert [(r["model"], r["runs"], r["batch"]) for r in got] == [(model, 1, 4)]
    assert all(r["run_steps_per_s"] > 0 and r["program_bytes"] > 0 for r in got)


def test_the_worker_skips_a_shape_the_architecture_rejects(tmp_path):
    records = tmp_path / gpu_check.RECORDS
    gpu_check.worker(gpu_check.Item("train", "lapgan", "30x30x1", runs=(1,)), records,
                     tiny=True, peer=None)
    (record,) = gpu_check.read_records(records)
    assert record["skipped"].startswith("lapgan at 30x30x1: LAPGAN: a 3-level pyramid")


def test_the_real_command_takes_more_models_within_a_few_seconds(tmp_path):
    out = tmp_path / "check"
    gpu_check.main(["--tiny", "--budget", "6", "--out", str(out), "--models", "cgan,bigan",
                    "--peer", str(tmp_path / "missing.py")])
    report = (out / gpu_check.REPORT).read_text()
    for model in ("cgan", "bigan"):
        assert f"- train {model} 28x28x1 float32 R=1: " in report
    with pytest.raises(gpu_check.UserError, match="unknown model 'nope'"):
        gpu_check.main(["--tiny", "--budget", "6", "--out", str(out), "--models", "nope"])
