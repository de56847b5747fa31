"""Leases: one results directory shared by many processes; every task runs exactly once."""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from benchmark.io import atomic_write
from benchmark.runner import leases
from benchmark.runner.leases import (
    LeaseHeld,
    LeaseInfo,
    LeaseLost,
    TaskLease,
    create_once,
    default_holder,
    lease_path,
    live_lease,
    read_lease,
)
from tests.runner import lease_workers

TASKS = [f"task{i}" for i in range(8)]
SPAWN = multiprocessing.get_context("spawn")


def _race(tmp_path: Path, n_procs: int) -> tuple[Counter, set[str]]:
    log = tmp_path / "log.txt"
    start_at = time.time() + 1.5  # after every child has started
    procs = [SPAWN.Process(target=lease_workers.race,
                           args=(str(tmp_path), TASKS[i:] + TASKS[:i], str(log), start_at))
             for i in range(n_procs)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    lines = log.read_text().split()
    return Counter(lines[0::2]), set(lines[1::2])


@pytest.mark.parametrize("n_procs", [2, 4])
def test_concurrent_processes_run_every_task_once(tmp_path, n_procs):
    runs, pids = _race(tmp_path, n_procs)
    assert runs == Counter(TASKS)  # every task exactly once
    assert len(pids) >= 2  # the work was shared
    assert not list((tmp_path / "leases").glob("*.json"))  # all released


def test_lease_of_killed_process_is_taken_over(tmp_path):
    ready = tmp_path / "ready"
    child = SPAWN.Process(target=lease_workers.hold_forever, args=(str(tmp_path), "t", str(ready)))
    child.start()
    try:
        deadline = time.time() + 30
        while not ready.exists():
            assert time.time() < deadline and child.is_alive()
            time.sleep(0.05)
        assert TaskLease.try_acquire(tmp_path, "t") is None  # a live holder is respected
        assert live_lease(tmp_path, "t").pid == child.pid
        with pytest.raises(LeaseHeld, match="running elsewhere"):
            TaskLease.acquire(tmp_path, "t", wait=0.2, poll=0.05)
    finally:
        os.kill(child.pid, signal.SIGKILL)
    child.join()
    assert live_lease(tmp_path, "t") is None
    with TaskLease.acquire(tmp_path, "t") as lease:  # taken over at once, no timeout
        assert read_lease(tmp_path, "t").token == lease.info.token
    assert read_lease(tmp_path, "t") is None


def test_zombie_holder_counts_dead(tmp_path):
    ready = tmp_path / "ready"
    child = SPAWN.Process(target=lease_workers.hold_forever, args=(str(tmp_path), "t", str(ready)))
    child.start()
    while not ready.exists():
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    time.sleep(0.3)  # killed, not reaped yet: a zombie whose pid still answers os.kill(pid, 0)
    try:
        assert TaskLease.try_acquire(tmp_path, "t") is not None
    finally:
        child.join()


def _foreign_lease(tmp_path, task_id, *, heartbeat_age, holder="other:1", host="other-host"):
    now = time.time()
    info = LeaseInfo(task_id=task_id, holder=holder, host=host, boot_id="b", pid_namespace="p",
                     pid=1, pid_start=None, token="foreign", acquired=now - 3600,
                     heartbeat=now - heartbeat_age)
    # under the lease's lock, as a real taker writes it: unlocked, a heartbeat between its read
    # and its write would put the holder's lease back over this one
    with leases._lock(tmp_path, task_id, timeout=30):
        atomic_write(lease_path(tmp_path, task_id), info.to_bytes())


def test_stale_heartbeat_from_another_host_is_taken_over(tmp_path):
    _foreign_lease(tmp_path, "t", heartbeat_age=700)
    assert live_lease(tmp_path, "t") is None
    lease = TaskLease.try_acquire(tmp_path, "t")  # default timeout: 600 s
    assert lease is not None
    lease.release()


def test_fresh_heartbeat_from_another_host_is_respected(tmp_path):
    _foreign_lease(tmp_path, "t", heartbeat_age=5)
    assert TaskLease.try_acquire(tmp_path, "t") is None
    assert TaskLease.try_acquire(tmp_path, "t", timeout=4, heartbeat=1) is not None  # stale


def test_same_holder_takes_its_lease_over(tmp_path):
    """A retried Ray task / requeued SLURM job takes the lease its dead attempt left."""
    _foreign_lease(tmp_path, "t", heartbeat_age=5, holder="ray:abc")
    assert TaskLease.try_acquire(tmp_path, "t", holder="ray:other") is None
    lease = TaskLease.try_acquire(tmp_path, "t", holder="ray:abc")
    assert lease is not None and lease.info.holder == "ray:abc"
    lease.release()


def test_holder_on_this_machine_before_a_reboot_is_dead(tmp_path):
    info = LeaseInfo.for_this_process("t", "x")
    info = dataclasses.replace(info, boot_id="another-boot", pid=os.getpid(), token="old")
    atomic_write(lease_path(tmp_path, "t"), info.to_bytes())
    if leases._boot_id() is None:
        pytest.skip("no boot id here")
    assert TaskLease.try_acquire(tmp_path, "t") is not None


def test_live_holder_in_this_process_is_respected(tmp_path):
    with TaskLease.acquire(tmp_path, "t"):
        assert TaskLease.try_acquire(tmp_path, "t") is None
    assert TaskLease.try_acquire(tmp_path, "t") is not None


def _eventually(condition, seconds: float = 30.0) -> bool:
    """Whether ``condition()`` holds within ``seconds`` (the heartbeat thread runs when the
    machine lets it: a loaded CI machine may delay it well past its period)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_heartbeat_refreshes_and_detects_a_lost_lease(tmp_path):
    with TaskLease.acquire(tmp_path, "t", heartbeat=0.05, timeout=10) as lease:
        first = read_lease(tmp_path, "t").heartbeat
        assert _eventually(lambda: read_lease(tmp_path, "t").heartbeat > first)
        lease.check()
        _foreign_lease(tmp_path, "t", heartbeat_age=0)  # another process took it over
        assert _eventually(lambda: lease.lost)
        with pytest.raises(LeaseLost):
            lease.check()
    assert read_lease(tmp_path, "t").token == "foreign"  # not ours: left alone on release


def test_default_holder(monkeypatch):
    for var in ("GAN_BENCHMARK_LEASE_HOLDER", "SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID",
                "SLURM_ARRAY_TASK_ID", "SLURM_STEP_ID", "SLURM_PROCID"):
        monkeypatch.delenv(var, raising=False)
    assert default_holder().endswith(f":{os.getpid()}")
    monkeypatch.setenv("SLURM_JOB_ID", "100")
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "99")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "3")
    monkeypatch.setenv("SLURM_STEP_ID", "0")
    assert default_holder() == "slurm:99_3.0.0"
    monkeypatch.setenv("GAN_BENCHMARK_LEASE_HOLDER", "ray:t1")
    assert default_holder() == "ray:t1"


def test_bad_task_ids_are_refused(tmp_path):
    for bad in ("", "..", "a/b", ".hidden"):
        with pytest.raises(ValueError):
            TaskLease.try_acquire(tmp_path, bad)


def test_create_once(tmp_path):
    path = tmp_path / "study.json"
    assert create_once(path, b"one")
    assert not create_once(path, b"two")
    assert path.read_bytes() == b"one"
    assert [p.name for p in tmp_path.iterdir()] == ["study.json"]  # no temporary left


def test_create_once_without_hard_links(tmp_path, monkeypatch):
    def no_link(src, dst):
        raise PermissionError("no hard links here")

    monkeypatch.setattr(os, "link", no_link)
    assert create_once(tmp_path / "m", b"one")
    assert not create_once(tmp_path / "m", b"two")
    assert (tmp_path / "m").read_bytes() == b"one"


def test_create_once_race(tmp_path):
    path = tmp_path / "study.json"
    start_at = time.time() + 1.5
    with SPAWN.Pool(4) as pool:
        created = pool.starmap(lease_workers.create,
                               [(str(path), f"p{i}".encode(), start_at) for i in range(4)])
    assert sum(created) == 1
    assert path.read_bytes() == f"p{created.index(True)}".encode()
