"""Chaos, measured: SIGKILL a study in each of its phases, resume it, and compare the final
rows with an uninterrupted run's (issue: "nothing lost, nothing repeated").

``python -m benchmark chaos [--kills 10] [--seed 0] [--ray]`` trains a small smoke study
(three models x two seeds on the triangles) once without interruption, then again in a second
directory, killing it ``--kills`` times and letting the last attempt finish. The study traces
the phases it enters (``benchmark.runner.trace``: training, evaluation, the rows write, the
checkpoint write, the DONE marker); each kill is aimed at one of training, evaluation, rows
and checkpoint in turn (a random order every four kills), waits until the study enters that
phase, then a random fraction of that phase's length in the uninterrupted run, and kills.
Without ``--ray`` the whole process group of the study is killed and the study is started
again; with ``--ray`` the study runs on a local Ray cluster and the Ray worker in that phase
is killed (Ray retries its task, which resumes from its checkpoint) while the driver goes on.
It prints one line per kill (aimed at, landed in, how far the study had got) and whether the
final rows equal the uninterrupted run's, and exits 1 if they do not.
"""

from __future__ import annotations

import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pandas as pd

from benchmark.errors import OneLineParser, positive_int
from benchmark.runner import trace
from benchmark.runner.results import load_rows

STUDY = ["train", "--model", "ns_gan,lsgan,wgan_gp", "--seeds", "0,1", "--profile", "smoke",
         "--no-progress"]
TARGETS = ("train", "evaluate", "rows", "checkpoint")
POLL = 0.0005  # s between looks at the trace while waiting for a phase


def _command(root: Path, ray: bool, kills: int) -> list[str]:
    extra = ["--executor", "ray", "--ray-max-retries", str(kills)] if ray else []
    return [sys.executable, "-m", "benchmark", *STUDY, "--results-dir", str(root), *extra]


def _rows(root: Path) -> pd.DataFrame:
    df = load_rows(root).drop(columns=["eval_seconds"])
    return df.sort_values(["run_id", "step"]).reset_index(drop=True)


def _progress(root: Path) -> str:
    groups = list((root / "groups").glob("*")) if (root / "groups").exists() else []
    done = sum((g / "DONE").exists() for g in groups)
    rows = sum(len((g / "rows.jsonl").read_text().splitlines())
               for g in groups if (g / "rows.jsonl").exists())
    ckpts = sum(1 for g in groups if (g / "checkpoints").exists())
    return f"{done}/{len(groups)} tasks done, {rows} rows, {ckpts} checkpoint folders"


def phase_seconds(entries: list[tuple[float, int, str, str]]) -> dict[str, float]:
    """Median seconds of each phase in a trace: from its entry to the same process's next."""
    spans: dict[str, list[float]] = defaultdict(list)
    last: dict[int, tuple[float, str]] = {}
    for t, pid, _, name in entries:
        if pid in last:
            spans[last[pid][1]].append(t - last[pid][0])
        last[pid] = (t, name)
    return {name: statistics.median(s) for name, s in spans.items()}


def _run(cmd: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(cmd, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for_phase(path: Path, target: str, after: float, proc: subprocess.Popen):
    """The first trace entry of phase ``target`` written after ``after``, or None if the
    study ended first."""
    while proc.poll() is None:
        for entry in reversed(trace.read(path)):
            if entry[0] <= after:
                break
            if entry[3] == target:
                return entry
        time.sleep(POLL)
    return None


def landed(path: Path, pid: int) -> str:
    """The phase ``pid`` was in when it was killed: its last trace entry."""
    for entry in reversed(trace.read(path)):
        if entry[1] == pid:
            return entry[3]
    return "start-up"


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m benchmark chaos",
                           description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=positive_int, default=10,
                        help="kills before the last attempt is let finish (default 10)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the phases and moments chosen to kill (default 0)")
    parser.add_argument("--ray", action="store_true",
                        help="kill the Ray worker in the phase, not the study's process")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where the two studies and traces go (default: a new temp dir)")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="chaos-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu")}

    # a first run fills the compilation cache, so that the timed one is what resumed
    # attempts are like
    subprocess.run(_command(work / "warm", args.ray, args.kills), env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    calm_trace = work / "calm.trace"
    start = time.perf_counter()
    subprocess.run(_command(work / "calm", args.ray, args.kills),
                   env={**env, trace.ENV: str(calm_trace)}, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    calm = time.perf_counter() - start
    lengths = phase_seconds(trace.read(calm_trace))
    print(f"uninterrupted run: {calm:.0f} s -> {work / 'calm'}; median phase lengths: "
          + ", ".join(f"{p} {lengths.get(p, 0.0) * 1e3:.0f} ms" for p in TARGETS), flush=True)

    root, path = work / "chaos", work / "chaos.trace"
    env[trace.ENV] = str(path)
    kills, attempts, tally = 0, 0, defaultdict(int)
    targets: list[str] = []
    proc, since = None, time.time()
    while True:
        if proc is None or (not args.ray and proc.poll() is not None):
            attempts += 1
            proc = _run(_command(root, args.ray, args.kills), env)
        if kills == args.kills:
            break
        if not targets:
            targets = rng.sample(TARGETS, len(TARGETS))
        target = targets.pop()
        entry = wait_for_phase(path, target, since, proc)
        if entry is None:  # the study finished before reaching the phase again
            break
        time.sleep(rng.uniform(0.0, 1.0) * lengths.get(target, 0.0))
        victim = entry[1]
        if args.ray:
            os.kill(victim, signal.SIGKILL)
        else:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        since = time.time()
        kills += 1
        where = landed(path, victim)
        tally[where] += 1
        print(f"kill {kills:2d}: {'a Ray worker' if args.ray else 'the study'} aimed at "
              f"{target}, landed in {where} ({_progress(root)})", flush=True)
    status = proc.wait()
    if status != 0:
        print(f"the last attempt exited with status {status}", flush=True)
        return 1
    same = _rows(root).equals(_rows(work / "calm"))
    print(f"{kills} kills ({', '.join(f'{n} in {p}' for p, n in sorted(tally.items()))}), "
          f"{attempts} attempts; final rows "
          f"{'identical to' if same else 'DIFFERENT from'} the uninterrupted run's; "
          f"leftover checkpoint folders: {sum(1 for _ in root.glob('groups/*/checkpoints'))}")
    return 0 if same else 1

