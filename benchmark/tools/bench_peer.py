"""Our training step against the PyTorch peer, side by side: run-steps/s of both, one run each.

``python -m benchmark bench-peer`` (or ``make bench-peer``) runs ``python -m benchmark bench
--runs 1`` and then the peer script (``peer_torch.py 1 STEPS``, the same NS GAN step at batch
64 in eager PyTorch, one run per process) on the same device, each in a fresh process, and
prints both figures. ``--rounds N`` alternates the two N times and also prints the medians
(the machine may be shared: compare figures taken in the same time window).

The peer script lives beside the checkout (``../shared/tools/peer_torch.py``); ``--peer PATH``
or ``$GAN_BENCHMARK_PEER`` points elsewhere.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

from benchmark.errors import OneLineParser, positive_int

PEER_NAME = Path("shared") / "tools" / "peer_torch.py"


def find_peer() -> Path | None:
    env = os.environ.get("GAN_BENCHMARK_PEER")
    if env:
        return Path(env)
    for parent in Path(__file__).resolve().parents:
        if (parent / PEER_NAME).is_file():
            return parent / PEER_NAME
    return None


def _run(cmd: list[str], env: dict[str, str], pattern: str) -> float:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    out = proc.stdout + proc.stderr
    match = re.search(pattern, out)
    if proc.returncode != 0 or match is None:
        raise SystemExit(f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{out[-3000:]}")
    return float(match.group(1))


def ours(model: str, steps: int, device: str) -> float:
    env = dict(os.environ)
    if device == "cpu":
        env["JAX_PLATFORMS"] = "cpu"
    cmd = [sys.executable, "-m", "benchmark", "bench", "--model", model, "--runs", "1",
           "--repeats", str(steps)]
    return _run(cmd, env, r"peak throughput: ([\d.]+) run-steps/s")


def peer(script: Path, steps: int, device: str) -> float:
    env = dict(os.environ, PEER_DEVICE=device)
    cmd = [sys.executable, str(script), "1", str(steps)]
    return _run(cmd, env, r"([\d.]+) run-steps/s total")


def main(argv: list[str] | None = None) -> None:
    parser = OneLineParser(prog="python -m benchmark bench-peer",
                           description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=positive_int, default=40,
                        help="timed steps of each side (default 40, the peer's usual)")
    parser.add_argument("--rounds", type=positive_int, default=1,
                        help="alternate ours and the peer this many times (default 1)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                        help="cpu (default) or cuda; the peer's PEER_DEVICE")
    parser.add_argument("--peer", type=Path, default=None,
                        help="path of peer_torch.py (default: ../shared/tools beside the "
                        "checkout, or $GAN_BENCHMARK_PEER)")
    args = parser.parse_args(argv)
    script = args.peer or find_peer()
    if script is None or not script.is_file():
        print("error: peer_torch.py not found: pass --peer PATH or set GAN_BENCHMARK_PEER",
              file=sys.stderr)
        raise SystemExit(2)
    results: dict[str, list[float]] = {"ours": [], "peer": []}
    for r in range(args.rounds):
        a = ours("ns_gan", args.steps, args.device)
        b = peer(script, args.steps, args.device)
        results["ours"].append(a)
        results["peer"].append(b)
        print(f"round {r + 1}: ours (python -m benchmark bench --runs 1) {a:.2f} run-steps/s; "
              f"torch peer ({script.name} 1 {args.steps}, PEER_DEVICE={args.device}) "
              f"{b:.2f} run-steps/s; ratio {a / b:.2f}", flush=True)
    if args.rounds > 1:
        a, b = statistics.median(results["ours"]), statistics.median(results["peer"])
        print(f"median of {args.rounds}: ours {a:.2f} run-steps/s, peer {b:.2f} run-steps/s, "
              f"ratio {a / b:.2f}")

