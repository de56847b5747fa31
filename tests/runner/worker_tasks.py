"""A toy task runner for the worker tests (module level and light, so that spawned workers
import it quickly)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from benchmark.runner.leases import TaskLease


class FakeRunner:
    """A picklable stand-in for the engine's TaskRunner: leases each task as the engine does,
    reports 3 run-steps and one evaluation, and records who trained it (pid, cores). ``fail``
    raises in that task; ``die`` ends the first worker to take that task at once (as a kill)."""

    def __init__(self, root: Path, fail: str | None = None, die: str | None = None):
        self.root, self.fail, self.die, self.progress = root, fail, die, None

    def __call__(self, task_id: str) -> str:
        if (self.root / f"{task_id}.done").exists():
            self.progress.skip_rest()
            return "done"
        lease = TaskLease.try_acquire(self.root, task_id)
        if lease is None:
            return "busy"
        with lease:
            if (self.root / f"{task_id}.done").exists():  # finished while we took the lease
                return "done"
            self._wait_for_a_second_worker()
            if task_id == self.die and not (self.root / f"{task_id}.died").exists():
                (self.root / f"{task_id}.died").write_text("")
                os._exit(9)
            if task_id == self.fail:
                raise RuntimeError(f"{task_id} is broken")
            self.progress.trained(3)
            self.progress.evaluated(3)
            cores = sorted(os.sched_getaffinity(0))
            with open(self.root / f"{task_id}.by", "a") as f:
                f.write(f"{os.getpid()} {cores}\n")
            (self.root / f"{task_id}.done").write_text("")
        return "trained"

    def _wait_for_a_second_worker(self) -> None:
        """Each worker's first task waits (at most 60 s) until two workers have one, so that
        both take part however late the second one starts."""
        mine = self.root / f"started-{os.getpid()}"
        if mine.exists():
            return
        mine.write_text("")
        deadline = time.monotonic() + 60
        while len(list(self.root.glob("started-*"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
