"""The Ray executor on a real local Ray cluster: a task whose worker dies is retried."""

from __future__ import annotations

import functools

import pytest

from benchmark.runner.executors import RayExecutor, make_executor
from benchmark.runner.executors.ray_executor import jax_env_vars
from tests.runner import executor_tasks

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             configure_logging=False)
    yield
    ray.shutdown()


def test_worker_death_is_retried(cluster, tmp_path):
    fn = functools.partial(executor_tasks.die_once, str(tmp_path))
    executor = make_executor("ray", max_retries=2, env_vars={"TOY_ENV": "set"})
    outcomes = executor.run(["t0", "t1", "t2", "bad"], fn, progress=True)
    assert list(outcomes) == ["t0", "t1", "t2", "bad"]
    for task_id in ("t0", "t1", "t2"):
        assert outcomes[task_id].ok, outcomes[task_id]
        assert outcomes[task_id].value["value"] == int(task_id[1]) ** 2
        assert outcomes[task_id].value["env"] == "set"  # runtime_env reached the workers
    assert outcomes["t0"].value["attempts"] == 1
    t1 = outcomes["t1"].value
    assert t1["attempts"] == 2  # killed once, retried once
    assert t1["holder"].startswith("ray:")
    assert t1["killed_holder"] == t1["holder"]  # a retry takes its dead attempt's lease over
    bad = outcomes["bad"]
    assert bad.status == "failed" and bad.error == "ValueError: task bad is broken"
    assert (tmp_path / "bad.attempts").read_text() == "."  # exceptions are not retried


def test_worker_death_past_the_retries_is_a_failure(cluster, tmp_path):
    fn = functools.partial(executor_tasks.die_once, str(tmp_path))
    outcomes = RayExecutor(max_retries=0).run(["t1"], fn, progress=False)
    assert outcomes["t1"].status == "failed"
    assert outcomes["t1"].error.startswith("WorkerCrashedError: ")


def test_options():
    assert jax_env_vars(0.25) == {"XLA_PYTHON_CLIENT_MEM_FRACTION": "0.225"}
    assert jax_env_vars(1) == {} and jax_env_vars(0) == {}
    options = RayExecutor(gpus_per_task=0.5, cpus_per_task=2, max_retries=5).remote_options()
    assert options == {
        "num_cpus": 2, "num_gpus": 0.5, "max_retries": 5, "retry_exceptions": False,
        "runtime_env": {"env_vars": {"XLA_PYTHON_CLIENT_MEM_FRACTION": "0.45"}},
    }
    with pytest.raises(ValueError):
        RayExecutor(gpus_per_task=1.5)
