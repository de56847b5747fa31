"""Safe sharing of one results directory by any number of processes, Ray workers or SLURM jobs.

A task (runs trained together) is *leased* before it runs, so that no task is trained twice at
once::

    lease = TaskLease.try_acquire(study_dir, task_id)   # None: someone alive holds it
    if lease is not None:
        with lease:
            ...                                          # train; call lease.check() now and then

    with TaskLease.acquire(study_dir, task_id) as lease:  # raises LeaseHeld instead of None
        ...

Files, under ``study_dir/leases/``::

    <task_id>.json   the lease: holder, host, pid, start and heartbeat times (written atomically)
    <task_id>.lock   a ``filelock`` lock held only while a lease file is read and rewritten

A lease whose holder died is taken over:

* same machine (host name, boot id and pid namespace): the holder's pid is checked (a zombie
  or a pid reused by another process counts as dead, through its start time in ``/proc``);
* another machine: the heartbeat, refreshed every ``heartbeat`` seconds by a thread while the
  lease is held, is older than ``timeout`` (10 minutes by default);
* the same *holder* (a retried Ray task or a requeued SLURM job, see :func:`default_holder`)
  takes its own lease over at once: schedulers start a retry after the attempt before ended.

A holder that stalled longer than ``timeout`` may have been taken over: its heartbeat thread
then finds another token in the lease file and marks the lease lost; :meth:`TaskLease.check`
raises :class:`LeaseLost` so that it stops before writing anything more.

:func:`create_once` creates a file (the study's manifest) exactly once, atomically.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import socket
import tempfile
import threading
import time
import uuid
from pathlib import Path

from filelock import FileLock, Timeout

from benchmark.io import atomic_write

__all__ = [
    "DEFAULT_HEARTBEAT",
    "DEFAULT_TIMEOUT",
    "HOLDER_ENV",
    "LeaseError",
    "LeaseHeld",
    "LeaseInfo",
    "LeaseLost",
    "TaskLease",
    "create_once",
    "default_holder",
    "holder_alive",
    "lease_path",
    "live_lease",
    "read_lease",
]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 600.0  # s without a heartbeat before a holder on another machine counts dead
DEFAULT_HEARTBEAT = 30.0  # s between heartbeats
DEFAULT_LOCK_TIMEOUT = 60.0  # s to wait for the lock around a lease file update
HOLDER_ENV = "GAN_BENCHMARK_LEASE_HOLDER"  # set by executors: a stable id of the task attempt
LEASES = "leases"


class LeaseError(RuntimeError):
    """Base class of the lease errors."""


class LeaseHeld(LeaseError):
    """The task is leased by a live holder; ``info`` describes it."""

    def __init__(self, task_id: str, info: LeaseInfo):
        self.task_id, self.info = task_id, info
        super().__init__(f"task {task_id} is running elsewhere ({info.describe()})")


class LeaseLost(LeaseError):
    """The lease was taken over by another process (this one stalled past the timeout)."""


# ---------------------------------------------------------------------------------------------
# Who and where this process is.


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _boot_id() -> str | None:
    return _read("/proc/sys/kernel/random/boot_id")


def _pid_namespace() -> str | None:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return None


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, start time in clock ticks since boot) of ``pid`` from /proc, if readable."""
    text = _read(f"/proc/{pid}/stat")
    if not text or ")" not in text:
        return None
    fields = text.rsplit(")", 1)[1].split()  # the command name may hold spaces and brackets
    try:
        return fields[0], int(fields[19])
    except (IndexError, ValueError):
        return None


def _pid_alive(pid: int, start: int | None) -> bool:
    """Whether the process ``pid`` that started at ``start`` (ticks since boot) still runs."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    stat = _proc_stat(pid)
    if stat is None:
        return True
    state, started = stat
    if state in ("Z", "X"):  # zombie (killed, not yet reaped) or dead
        return False
    return start is None or started == start


def default_holder() -> str:
    """A stable name of this task attempt's *worker*, recorded in the lease.

    ``$GAN_BENCHMARK_LEASE_HOLDER`` when set (the Ray executor sets ``ray:<task id>``, the
    same for every retry); in a SLURM job ``slurm:<job>[_<array index>].<step>.<rank>`` (the
    same after a requeue); else ``<host>:<pid>``. A lease with the holder of the process that
    asks for it is taken over at once: it is a retry of a dead attempt of the same work.
    """
    holder = os.environ.get(HOLDER_ENV)
    if holder:
        return holder
    job = os.environ.get("SLURM_JOB_ID")
    if job:
        array, index = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
        if array and index:
            job = f"{array}_{index}"
        step = os.environ.get("SLURM_STEP_ID", "batch")
        return f"slurm:{job}.{step}.{os.environ.get('SLURM_PROCID', '0')}"
    return f"{socket.gethostname()}:{os.getpid()}"


# ---------------------------------------------------------------------------------------------
# Lease files.


@dataclasses.dataclass(frozen=True)
class LeaseInfo:
    """The content of a lease file."""

    task_id: str
    holder: str
    host: str
    boot_id: str | None
    pid_namespace: str | None
    pid: int
    pid_start: int | None  # clock ticks since boot (Linux), to tell a reused pid
    token: str  # unique per acquisition
    acquired: float  # time.time()
    heartbeat: float  # time.time()

    @classmethod
    def for_this_process(cls, task_id: str, holder: str) -> LeaseInfo:
        now = time.time()
        stat = _proc_stat(os.getpid())
        return cls(task_id=task_id, holder=holder, host=socket.gethostname(),
                   boot_id=_boot_id(), pid_namespace=_pid_namespace(), pid=os.getpid(),
                   pid_start=stat[1] if stat else None, token=uuid.uuid4().hex,
                   acquired=now, heartbeat=now)

    def to_bytes(self) -> bytes:
        return (json.dumps(dataclasses.asdict(self), indent=1) + "\n").encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> LeaseInfo:
        obj = json.loads(data)
        return cls(**{f.name: obj.get(f.name) for f in dataclasses.fields(cls)})

    def same_machine(self) -> bool:
        """Whether the holder ran on this machine since its last boot, in this pid namespace."""
        return (self.host == socket.gethostname() and self.boot_id == _boot_id()
                and self.pid_namespace == _pid_namespace())

    def describe(self) -> str:
        age = time.time() - self.heartbeat
        return (f"holder {self.holder}, pid {self.pid} on {self.host}, "
                f"last heartbeat {age:.0f} s ago")


def lease_path(study_dir: str | Path, task_id: str) -> Path:
    return Path(study_dir) / LEASES / f"{_check_task_id(task_id)}.json"


def _lock(study_dir: str | Path, task_id: str, timeout: float) -> FileLock:
    path = Path(study_dir) / LEASES / f"{_check_task_id(task_id)}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(path, timeout=timeout, thread_local=False)


def _check_task_id(task_id: str) -> str:
    if not task_id or task_id in (".", "..") or "/" in task_id or "\\" in task_id \
            or task_id.startswith("."):
        raise ValueError(f"not a valid task id for a file name: {task_id!r}")
    return task_id


def read_lease(study_dir: str | Path, task_id: str) -> LeaseInfo | None:
    """The lease file of ``task_id`` (alive or not), or None; no lock is needed to read it."""
    try:
        return LeaseInfo.from_bytes(lease_path(study_dir, task_id).read_bytes())
    except FileNotFoundError:
        return None
    except (ValueError, TypeError) as err:  # not written by us: unreadable counts as no lease
        log.warning("ignoring unreadable lease of %s: %s", task_id, err)
        return None


def holder_alive(info: LeaseInfo, *, timeout: float = DEFAULT_TIMEOUT,
                 now: float | None = None) -> bool:
    """Whether the holder of a lease still runs (pid on this machine, heartbeat elsewhere)."""
    if info.same_machine():
        return _pid_alive(info.pid, info.pid_start)
    if info.host == socket.gethostname() and info.pid_namespace == _pid_namespace() \
            and info.boot_id is not None and _boot_id() is not None:
        return False  # this machine, booted again since
    now = time.time() if now is None else now
    return now - info.heartbeat <= timeout


def live_lease(study_dir: str | Path, task_id: str, *,
               timeout: float = DEFAULT_TIMEOUT) -> LeaseInfo | None:
    """The lease of ``task_id`` if its holder is alive, else None."""
    info = read_lease(study_dir, task_id)
    return info if info is not None and holder_alive(info, timeout=timeout) else None


class TaskLease:
    """The right to run one task; a context manager that releases it on exit.

    Make one with :meth:`try_acquire` or :meth:`acquire`. While held, a daemon thread
    rewrites the heartbeat every ``heartbeat`` seconds.
    """

    def __init__(self, study_dir: Path, info: LeaseInfo, *, heartbeat: float,
                 lock_timeout: float):
        self.study_dir, self.info = study_dir, info
        self.task_id = info.task_id
        self._heartbeat, self._lock_timeout = heartbeat, lock_timeout
        self._stop, self._lost = threading.Event(), threading.Event()
        self._released = False
        self._thread = threading.Thread(target=self._beat, daemon=True,
                                        name=f"lease-heartbeat-{self.task_id}")
        self._thread.start()

    # -- acquiring ------------------------------------------------------------------------------

    @classmethod
    def try_acquire(cls, study_dir: str | Path, task_id: str, *, holder: str | None = None,
                    timeout: float = DEFAULT_TIMEOUT, heartbeat: float = DEFAULT_HEARTBEAT,
                    lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> TaskLease | None:
        """Lease ``task_id``, or return None when a live holder has it (see module doc).

        ``holder``: the name recorded in the lease (:func:`default_holder` by default);
        ``timeout``: seconds without a heartbeat after which a holder on another machine
        counts as dead; ``heartbeat``: seconds between heartbeats (well below ``timeout``).
        Raises ``filelock.Timeout`` if the lease file stays locked ``lock_timeout`` seconds.
        """
        if heartbeat <= 0 or heartbeat >= timeout:
            raise ValueError(f"need 0 < heartbeat ({heartbeat}) < timeout ({timeout})")
        study_dir = Path(study_dir)
        holder = holder or default_holder()
        path = lease_path(study_dir, task_id)
        with _lock(study_dir, task_id, lock_timeout):
            current = read_lease(study_dir, task_id)
            if current is not None and not _may_take_over(current, holder, timeout):
                return None
            if current is not None:
                log.info("taking over the lease of %s (%s)", task_id, current.describe())
            info = LeaseInfo.for_this_process(task_id, holder)
            atomic_write(path, info.to_bytes())
        return cls(study_dir, info, heartbeat=heartbeat, lock_timeout=lock_timeout)

    @classmethod
    def acquire(cls, study_dir: str | Path, task_id: str, *, holder: str | None = None,
                wait: float = 0.0, poll: float = 1.0, timeout: float = DEFAULT_TIMEOUT,
                heartbeat: float = DEFAULT_HEARTBEAT,
                lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> TaskLease:
        """Like :meth:`try_acquire`, waiting up to ``wait`` seconds; raises :class:`LeaseHeld`."""
        deadline = time.monotonic() + wait
        while True:
            lease = cls.try_acquire(study_dir, task_id, holder=holder, timeout=timeout,
                                    heartbeat=heartbeat, lock_timeout=lock_timeout)
            if lease is not None:
                return lease
            if time.monotonic() >= deadline:
                info = read_lease(study_dir, task_id)
                if info is None:  # released just now
                    continue
                raise LeaseHeld(task_id, info)
            time.sleep(min(poll, max(0.0, deadline - time.monotonic())))

    # -- holding --------------------------------------------------------------------------------

    @property
    def lost(self) -> bool:
        """True once another process took this lease over."""
        return self._lost.is_set()

    def check(self) -> None:
        """Raise :class:`LeaseLost` if another process took this lease over."""
        if self._lost.is_set():
            raise LeaseLost(f"the lease of task {self.task_id} was taken over by another "
                            "process (this one stalled past the lease timeout); stopping")

    def _beat(self) -> None:
        path = lease_path(self.study_dir, self.task_id)
        while not self._stop.wait(self._heartbeat):
            try:
                with _lock(self.study_dir, self.task_id, self._heartbeat):
                    if self._stop.is_set():
                        return
                    current = read_lease(self.study_dir, self.task_id)
                    if current is None or current.token != self.info.token:
                        log.error("lost the lease of %s", self.task_id)
                        self._lost.set()
                        return
                    self.info = dataclasses.replace(self.info, heartbeat=time.time())
                    atomic_write(path, self.info.to_bytes())
            except Timeout:
                log.warning("lease of %s: lock busy, heartbeat skipped", self.task_id)
            except OSError as err:  # e.g. a network file system hiccup: try again next time
                log.warning("lease of %s: heartbeat failed: %s", self.task_id, err)

    def release(self) -> None:
        """Stop the heartbeat and delete the lease file if it is still this lease's."""
        if self._released:
            return
        self._released = True
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join()
        try:
            with _lock(self.study_dir, self.task_id, self._lock_timeout):
                current = read_lease(self.study_dir, self.task_id)
                if current is not None and current.token == self.info.token:
                    lease_path(self.study_dir, self.task_id).unlink(missing_ok=True)
        except (Timeout, OSError) as err:  # left behind: it will be seen dead
            log.warning("could not release the lease of %s: %s", self.task_id, err)

    def __enter__(self) -> TaskLease:
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"TaskLease({self.task_id!r}, holder={self.info.holder!r}, lost={self.lost})"


def _may_take_over(current: LeaseInfo, holder: str, timeout: float) -> bool:
    if current.same_machine():
        return not _pid_alive(current.pid, current.pid_start)
    return current.holder == holder or not holder_alive(current, timeout=timeout)


# ---------------------------------------------------------------------------------------------


def create_once(path: str | Path, payload: bytes) -> bool:
    """Create ``path`` holding ``payload`` unless it exists; True if this call created it.

    Atomic and race-free between processes and machines: the payload is written to a
    temporary file that is then hard-linked to ``path`` (which fails if ``path`` exists), so
    readers never see a partial file. Where hard links are not supported, a file lock beside
    ``path`` guards an existence check and an atomic rename. When it returns False, the
    caller reads ``path`` and compares (e.g. the study fingerprint).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return False
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
            return True
        except FileExistsError:
            return False
        except OSError:  # no hard links here (some FUSE/SMB mounts): lock + rename
            with FileLock(path.parent / f".{path.name}.lock", thread_local=False):
                if path.exists():
                    return False
                os.replace(tmp, path)
                return True
    finally:
        Path(tmp).unlink(missing_ok=True)
