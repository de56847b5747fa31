"""Executor registry, the local executor, and the errors of missing extras."""

from __future__ import annotations

import sys

import pytest

from benchmark.runner.executors import (
    EXECUTORS,
    LocalExecutor,
    MissingExtra,
    TaskOutcome,
    make_executor,
)
from tests.runner.executor_tasks import square


def test_registry():
    assert set(EXECUTORS) == {"local", "ray", "slurm"}
    assert isinstance(make_executor("local"), LocalExecutor)
    with pytest.raises(ValueError, match="local, ray, slurm"):
        make_executor("kubernetes")


def test_importing_executors_imports_no_extra():
    import subprocess

    code = ("import sys, benchmark.runner.executors; "
            "assert 'ray' not in sys.modules and 'submitit' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_local_executor_runs_every_task_and_reports_failures(capsys):
    outcomes = LocalExecutor().run(["t1", "bad", "t3"], square, progress=True)
    assert list(outcomes) == ["t1", "bad", "t3"]
    assert outcomes["t1"] == TaskOutcome("t1", "ok", value=1)
    assert outcomes["t3"].value == 9 and outcomes["t3"].ok
    bad = outcomes["bad"]
    assert bad.status == "failed" and not bad.ok
    assert bad.error == "ValueError: task bad is broken"
    assert "Traceback" in bad.detail
    assert "3/3" in capsys.readouterr().err  # the progress bar


@pytest.mark.parametrize(("name", "module", "extra", "options"), [
    ("ray", "ray", "ray", {}),
    ("slurm", "submitit", "slurm", {"folder": "unused"}),
])
def test_missing_extra(monkeypatch, name, module, extra, options):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    with pytest.raises(MissingExtra) as info:
        make_executor(name, **options)
    message = str(info.value)
    assert f"pip install 'gan-benchmark[{extra}]'" in message
    assert "\n" not in message
    assert isinstance(info.value, RuntimeError)


def test_no_tasks_start_no_ray_cluster():
    ray = pytest.importorskip("ray")
    from benchmark.runner.executors import RayExecutor

    was = ray.is_initialized()
    assert RayExecutor().run([], square) == {}
    assert ray.is_initialized() == was
