"""The SLURM executor: submitit's local executor runs the same code path; sbatch scripts."""

from __future__ import annotations

import pytest

from benchmark.runner.executors import SlurmExecutor, make_executor
from benchmark.runner.executors.slurm import _failure_line, slurm_minutes
from tests.runner.executor_tasks import square

submitit = pytest.importorskip("submitit")


def test_local_cluster_runs_the_array(tmp_path):
    folder = tmp_path / "study" / "slurm"
    executor = make_executor("slurm", folder=folder, cluster="local", time=5,
                             partition="gpu", gpus_per_task=1, array_parallelism=2,
                             poll_interval=0.2)
    outcomes = executor.run(["t2", "bad", "t3"], square, progress=True)
    assert list(outcomes) == ["t2", "bad", "t3"]
    assert outcomes["t2"].ok and outcomes["t2"].value == 4
    assert outcomes["t3"].ok and outcomes["t3"].value == 9
    bad = outcomes["bad"]
    assert bad.status == "failed"
    assert bad.error == "ValueError: task bad is broken", bad.detail
    assert "Traceback" in bad.detail
    assert list(folder.glob("*_log.err")) and list(folder.glob("*_log.out"))  # logs there


def test_no_wait_returns_submitted(tmp_path):
    executor = SlurmExecutor(tmp_path, cluster="local", time=5, wait=False)
    outcomes = executor.run(["t4"], square, progress=False)
    assert outcomes["t4"].status == "submitted" and outcomes["t4"].value
    job = submitit.LocalJob(tmp_path, outcomes["t4"].value)
    assert job.result() == 16


def test_sbatch_script(tmp_path):
    executor = SlurmExecutor(tmp_path / "slurm", partition="gpu", gpus_per_task=2,
                             time="1-02:30:00", array_parallelism=4, cpus_per_task=8,
                             mem_gb=32, setup=["module load cuda"])
    script = executor.sbatch_script(10)
    lines = script.splitlines()
    for flag in ("--partition=gpu", "--gpus-per-task=2", "--time=1590", "--array=0-9%4",
                 "--cpus-per-task=8", "--mem=32GB", "--job-name=gan-benchmark",
                 "--ntasks=1"):
        assert f"#SBATCH {flag}" in lines, (flag, script)
    assert "module load cuda" in lines
    assert f"--output={tmp_path / 'slurm'}/%A_%a_0_log.out" in script
    assert "submitit.core._submit" in script
    assert "--array=0-2%3" in SlurmExecutor(tmp_path, time=5, array_parallelism=8) \
        .sbatch_script(3)  # parallelism capped by the number of tasks


def test_submission_through_slurm(tmp_path):
    """The real SlurmExecutor code path, with sbatch mocked by submitit's own test helper."""
    test_slurm = pytest.importorskip("submitit.slurm.test_slurm")
    folder = tmp_path / "slurm"
    with test_slurm.mocked_slurm():
        executor = SlurmExecutor(folder, partition="p", gpus_per_task=1, time="2:00:00",
                                 array_parallelism=3, wait=False)
        outcomes = executor.run(["t0", "t1", "t2", "t3", "t4"], square)
    assert [o.value for o in outcomes.values()] == [f"12_{i}" for i in range(5)]
    [script] = folder.glob("*_submission.sh")
    text = script.read_text()
    for flag in ("--partition=p", "--gpus-per-task=1", "--ntasks=1", "--time=120",
                 "--array=0-4%3"):
        assert f"#SBATCH {flag}\n" in text, (flag, text)
    assert text == executor.sbatch_script(5)  # the dry run renders what is submitted


@pytest.mark.parametrize(("value", "minutes"), [
    (90, 90), (2.5, 3), ("45", 45), ("10:30", 11), ("4:00:00", 240), ("1-0", 1440),
    ("1-2:30", 1590), ("2-00:00:01", 2881),
])
def test_slurm_minutes(value, minutes):
    assert slurm_minutes(value) == minutes


def test_bad_times():
    for bad in ("soon", "1:2:3:4", 0, "-5"):
        with pytest.raises(ValueError):
            slurm_minutes(bad)


def test_failure_line():
    text = ("Job (task=0) failed during processing with trace:\n----------------------\n"
            "Traceback (most recent call last):\n  File \"x\", line 1\nValueError: boom\n"
            "----------------------\nYou can check full logs with 'job.stderr(0)'")
    assert _failure_line(text) == "ValueError: boom"
    assert _failure_line("Job 12 timed out\nmore") == "Job 12 timed out"
