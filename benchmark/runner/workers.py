"""Several worker processes on one machine, each on its own share of the CPU cores
(``execution.workers``; docs/speed.md, "Workers: one per core").

On a CPU, one small GAN step does not keep every core busy: XLA splits its operations over
threads that wait for each other. Processes that each own some cores and train different tasks
at once do better (measured on 2 cores: the preview's eight tasks in 647 s with two workers of
one core each against 802 s in one process, +24%). The workers share the results directory as
any processes do, through its leases (``benchmark.runner.leases``): each takes the next task no
one holds, so a task is trained once, and finished work is never repeated. They report their
progress to this process, which draws the study's one bar (:class:`Relay`,
:meth:`benchmark.runner.progress.StudyProgress.apply`).

A worker that dies (killed, out of memory) leaves its task's lease to a dead process; this
process then takes the task over and resumes it from its checkpoint
(:func:`benchmark.runner.engine.run_study`). A task that fails is reported as the executors
report theirs, with its ``FAILED`` file, and not retried until the command is run again (but
by a worker that reaches it in the instant between the failing worker's release of its lease
and its flag: that one fails there too, and both failures are counted).

Results depend on the threads a step runs on (the order of floating-point sums): a worker's
task runs on its cores alone, so a study's numbers with workers differ, within float
round-off at first, from one process's; the same worker count on the same machine gives the
same numbers.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import queue
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmark.errors import UserError
from benchmark.runner import host_memory
from benchmark.runner.compile_cache import enable_compilation_cache  # imports JAX, not a backend

__all__ = ["Relay", "become_worker", "call_as_worker", "core_sets", "resolve", "run_workers"]

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5  # how often this process looks at the workers while none reports


def cores() -> list[int]:
    """The CPU cores this process may run on."""
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
        list(range(os.cpu_count() or 1))


def resolve(setting: int, tasks: int, backend: str) -> int:
    """How many workers to start: ``setting`` (0: one per CPU core on the CPU backend, one on an
    accelerator), never more than the ``tasks`` left. With more than one, this process only
    draws the bar while they train."""
    if setting < 0:
        raise UserError(f"--workers {setting} must be >= 0 (0: one per CPU core)")
    if setting > 1 and backend != "cpu":
        raise UserError(f"--workers {setting} is for the CPU: on {backend}, one process drives "
                        "every local device; leave --workers at 1 (or 0)")
    if setting == 0:
        setting = len(cores()) if backend == "cpu" else 1
    return max(1, min(setting, tasks))


def core_sets(workers: int) -> list[list[int] | None]:
    """Each worker's cores: this process's, dealt round-robin; None (not pinned) for every
    worker when there are fewer cores than workers."""
    mine = cores()
    if workers > len(mine):
        return [None] * workers
    return [mine[i::workers] for i in range(workers)]


class Relay:
    """A worker's stand-in for the study's bar: forwards each event, with its task, to the
    process that draws the bar. A task's start goes with its first event, stamped with the
    time it started (``time.perf_counter``: the machine's monotonic clock, the same in every
    process), so a task that another worker holds (the runner says "busy") or finished sends
    nothing."""

    def __init__(self, events: Any):
        self.events, self.task_id, self._started = events, None, None

    def start(self, task_id: str) -> None:
        self.task_id, self._started = task_id, time.perf_counter()

    def _send(self, event: str, *args: Any) -> None:
        if self._started is not None:
            self.events.put(("event", self.task_id, "start", (self._started,)))
            self._started = None
        self.events.put(("event", self.task_id, event, args))

    def trained(self, run_steps: int) -> None:
        self._send("trained", run_steps)

    def evaluated(self, step: int) -> None:
        self._send("evaluated", step)

    def skipped(self, run_steps: int, evaluations: int) -> None:
        self._send("skipped", run_steps, evaluations)

    def skip_rest(self) -> None:
        """Nothing: finished by another worker, who told the bar, or earlier, which the bar
        counts once the workers end."""


def become_worker(pinned: list[int] | None, cache_dir: str | None) -> None:
    """Set a new process up as a worker, before JAX starts its threads (which then inherit
    its cores): glibc's malloc as ``python -m benchmark`` sets it, the worker's cores, and the
    compilation cache of the process that started it."""
    host_memory.keep_freed_memory()
    if pinned is not None:
        os.sched_setaffinity(0, pinned)
    if cache_dir:
        enable_compilation_cache(Path(cache_dir))


def call_as_worker(pinned: list[int] | None, cache_dir: str | None, call: bytes,
                   *shared: Any) -> Any:
    """``fn(*args, *shared)`` for ``call = pickle.dumps((fn, args))``, in a new process set up
    as a worker (:func:`become_worker`). The call comes pickled, and is unpickled only once the
    process is pinned: unpickling imports its modules, and importing JAX's models can start
    XLA's threads, which would then keep every core. ``shared``: queues and shared arrays,
    which multiprocessing passes only as a process's own arguments."""
    become_worker(pinned, cache_dir)
    fn, args = pickle.loads(call)
    return fn(*args, *shared)


def _work(runner: Callable[[str], str], tasks: Sequence[str], events: Any,
          failed: Any) -> None:
    """A worker (started by :func:`call_as_worker`): it runs every task no one holds and no
    worker saw fail in this command (``failed``: a flag per task, shared), then ends (it does
    not wait for the others' tasks)."""
    relay = Relay(events)
    runner.progress = relay
    try:
        for i, task_id in enumerate(tasks):
            if failed[i]:
                continue
            relay.start(task_id)
            try:
                runner(task_id)
            except Exception as err:  # the task's FAILED file holds the traceback
                failed[i] = 1
                events.put(("failed", task_id, f"{type(err).__name__}: {err}".splitlines()[0]))
    except KeyboardInterrupt:
        sys.exit(130)


def run_workers(runner: Callable[[str], str], tasks: Sequence[str], workers: int,
                bar: Any = None, root: Path | None = None,
                cache_dir: str | None = None) -> None:
    """Run ``tasks`` with ``workers`` processes, each pinned to its share of the cores
    (:func:`core_sets`); ``runner`` (picklable, e.g. the engine's ``TaskRunner``) is called once
    per task in each worker, and its progress events reach ``bar`` here. Returns when every
    worker has ended; raises :class:`UserError` naming a task that failed. Tasks a dead worker
    left unfinished are left to the caller."""
    ctx = multiprocessing.get_context("spawn")  # a fork would copy JAX's running threads
    events, flags = ctx.Queue(), ctx.Array("b", len(tasks))
    call = pickle.dumps((_work, (runner, list(tasks))))
    procs = [ctx.Process(target=call_as_worker, args=(pinned, cache_dir, call, events, flags),
                         name=f"worker-{i}", daemon=True)
             for i, pinned in enumerate(core_sets(workers))]
    failed: list[tuple[str, str]] = []

    def handle(message: tuple) -> None:
        if message[0] == "failed":
            failed.append(message[1:])
        elif bar is not None:
            _, task_id, method, args = message
            bar.apply(task_id, method, args)

    for proc in procs:
        proc.start()
    try:
        while True:
            try:
                handle(events.get(timeout=POLL_SECONDS))
            except queue.Empty:
                if not any(p.is_alive() for p in procs):
                    break
        while True:  # what the last worker sent as it ended
            try:
                handle(events.get_nowait())
            except queue.Empty:
                break
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
            proc.join()
    died = [p.name for p in procs if p.exitcode != 0]
    if died:
        log.warning("%s ended without finishing (exit codes %s); this process resumes what "
                    "they left", ", ".join(died), [p.exitcode for p in procs])
    if failed:
        task_id, error = failed[0]
        raise UserError(f"{len(failed)} task(s) failed, e.g. {task_id}: {error}; see "
                        f"{root or '<results>'}/groups/<task>/FAILED, and rerun the same "
                        "command to retry them")
