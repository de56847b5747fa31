"""Task markers (DONE, FAILED) and the task states read from a study directory."""

from __future__ import annotations

import pytest

from benchmark.runner import task_files
from benchmark.runner.leases import TaskLease


def test_markers(tmp_path):
    assert not task_files.is_done(tmp_path, "g")
    task_files.mark_failed(tmp_path, "g", "Traceback ...\nValueError: boom")
    assert task_files.is_failed(tmp_path, "g")
    assert task_files.failure_message(tmp_path, "g").endswith("ValueError: boom")
    task_files.mark_done(tmp_path, "g")
    assert task_files.is_done(tmp_path, "g")
    assert not task_files.is_failed(tmp_path, "g")
    assert task_files.failure_message(tmp_path, "g") is None  # a success clears the failure
    assert sorted(p.name for p in (tmp_path / "groups" / "g").iterdir()) == ["DONE"]
    task_files.clear_markers(tmp_path, "g")
    assert not task_files.is_done(tmp_path, "g")


def test_task_states(tmp_path):
    tasks = ["a", "b", "c", "d"]
    assert task_files.task_states(tmp_path, tasks) == dict.fromkeys(tasks, "pending")
    task_files.mark_done(tmp_path, "a")
    task_files.mark_failed(tmp_path, "c", "boom")
    task_files.mark_failed(tmp_path, "d", "boom")
    with TaskLease.acquire(tmp_path, "b"), TaskLease.acquire(tmp_path, "d"):
        states = task_files.task_states(tmp_path, tasks)
        assert states == {"a": "done", "b": "running", "c": "failed", "d": "running"}
        assert list(states) == tasks
    assert task_files.task_states(tmp_path, tasks) == {
        "a": "done", "b": "pending", "c": "failed", "d": "failed"}
    assert task_files.unfinished(tmp_path, tasks) == ["b", "c", "d"]


def test_bad_task_id(tmp_path):
    with pytest.raises(ValueError):
        task_files.mark_done(tmp_path, "../x")
