"""Chaos, measured: SIGKILL a study at random moments, resume it each time, and compare the
final rows with an uninterrupted run's (issue: "nothing lost, nothing repeated").

``python -m benchmark.chaos [--kills 10] [--seed 0] [--ray]`` trains a small smoke study
(three models x two seeds on the triangles) once without interruption, then again in a second
directory, killing the whole process group at a uniformly random moment of each attempt
(training, evaluation, checkpoint and row writes all take their share of the time) until
``--kills`` kills were delivered, and lets the last attempt finish. With ``--ray`` the study
runs on a local Ray cluster and Ray worker processes are killed instead of the driver. It
prints one line per kill (when, and how far the study had got) and whether the rows match.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from benchmark.results import load_rows

STARTUP_SECONDS = 8.0  # a resumed attempt's start: imports, data, compilation cache
STUDY = ["train", "--model", "ns_gan,lsgan,wgan_gp", "--seeds", "0,1", "--profile", "smoke",
         "--no-progress"]


def _command(root: Path, ray: bool) -> list[str]:
    extra = ["--executor", "ray"] if ray else []
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


def _rows_of(root: Path) -> list[str]:
    return [line for f in root.glob("groups/*/rows.jsonl") for line in
            f.read_text().splitlines()]


def _ray_workers() -> list[int]:
    out = subprocess.run(["pgrep", "-f", "ray::"], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmark.chaos",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ray", action="store_true", help="kill Ray workers, not the driver")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="chaos-"))
    env = {**os.environ, "JAX_PLATFORMS": os.environ.get("JAX_PLATFORMS", "cpu")}

    # a first run fills the compilation cache, so that the timed one is what resumed
    # attempts are like
    subprocess.run(_command(work / "warm", args.ray), env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    start = time.perf_counter()
    subprocess.run(_command(work / "calm", args.ray), env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    calm = time.perf_counter() - start
    print(f"uninterrupted run: {calm:.0f} s -> {work / 'calm'}", flush=True)

    root, kills, attempts = work / "chaos", 0, 0
    if args.ray:  # one driver; its Ray workers are killed at random moments
        attempts = 1
        proc = subprocess.Popen(_command(root, True), env=env, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while kills < args.kills and proc.poll() is None:
            time.sleep(rng.uniform(0.5, 2.0) * calm / args.kills)
            workers = _ray_workers()
            if workers and proc.poll() is None:
                os.kill(rng.choice(workers), signal.SIGKILL)
                kills += 1
                print(f"kill {kills:2d}: a Ray worker ({_progress(root)})", flush=True)
        if proc.wait() != 0:
            print(f"the driver exited with status {proc.returncode}", flush=True)
            return 1
    while not args.ray:
        attempts += 1
        proc = subprocess.Popen(_command(root, False), env=env, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if kills < args.kills:
            left = 1.0 - len(_rows_of(root)) / len(_rows_of(work / "calm"))
            moment = rng.uniform(0.05, 0.6) * left * calm + STARTUP_SECONDS
            try:
                proc.wait(timeout=moment)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                kills += 1
                print(f"kill {kills:2d}: the study at {moment:5.1f} s of an attempt "
                      f"({_progress(root)})", flush=True)
                continue
        if proc.wait() != 0:
            print(f"attempt {attempts} exited with status {proc.returncode}", flush=True)
            return 1
        break  # finished: a study that ran to the end before the next kill is done
    same = _rows(root).equals(_rows(work / "calm"))
    print(f"{kills} kills, {attempts} attempts; final rows "
          f"{'identical to' if same else 'DIFFERENT from'} the uninterrupted run's; "
          f"leftover checkpoint folders: {sum(1 for _ in root.glob('groups/*/checkpoints'))}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
