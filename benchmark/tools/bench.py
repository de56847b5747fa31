"""Training throughput: run-steps per second with R runs vmapped in one program.

A run-step is one training step (one D update, batch 64) of one run. For each R the program
is compiled once (reported separately), then timed over several segments; the data are
random 28x28x1 uint8 images of the triangle set's size (speed does not depend on content),
with random class labels where the model needs them (:func:`benchmark.tools.bound.setup`, the
engine's structure and rule). A model whose architecture cannot take 28x28x1 is skipped with
the reason.
On an accelerator a segment is a ``lax.scan`` over ``--segment`` steps; on CPU it is one
unrolled step (see ``benchmark.training.plan.default_plan``). Out-of-memory ends the sweep over R
and is reported.
"""

from __future__ import annotations

import dataclasses
import json
import resource
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from benchmark.errors import OneLineParser, UserError, user_input
from benchmark.io import atomic_write
from benchmark.tools import bound
from benchmark.training import default_plan, init_runs, train_segment
from sweeps.runs import make_run


@dataclasses.dataclass
class BenchResult:
    runs: int
    compile_s: float
    step_ms: float  # wall time of one step of all R runs
    run_steps_per_s: float
    peak_mb: float | None


def _peak_mb() -> float | None:
    stats = jax.local_devices()[0].memory_stats() or {}
    if "peak_bytes_in_use" in stats:
        return stats["peak_bytes_in_use"] / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10  # host RSS, Linux KiB


def measure(model: str, runs: int, *, segment: int, repeats: int, num_train: int = 60_000,
            seed: int = 0) -> BenchResult:
    """Compile once, then time ``repeats`` segments of ``segment`` steps of ``runs`` runs."""
    plan = default_plan()
    spec, structure = bound.setup(model, (28, 28, 1))
    why = bound.unsupported(structure)
    if why is not None:
        raise bound.Unsupported(why)
    rng = np.random.default_rng(seed)
    data = jax.device_put(rng.integers(0, 65, (num_train, 28, 28, 1), dtype=np.uint8))
    labels = bound.train_labels(structure, num_train, seed)
    states = init_runs(structure, num_train, np.arange(runs, dtype=np.uint32))
    hps = {k: jnp.full((runs,), v, jnp.float32) for k, v in spec.hp.items()}
    kwargs = dict(structure=structure, scale=1 / 64, num_steps=segment, branch=plan.branch,
                  unroll=plan.unroll, labels=labels)
    t0 = time.perf_counter()
    states, m = train_segment(states, hps, data, jnp.int32(0), **kwargs)
    jax.block_until_ready((states, m))
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(repeats):
        states, m = train_segment(states, hps, data, jnp.int32((i + 1) * segment), **kwargs)
    jax.block_until_ready((states, m))
    seconds = (time.perf_counter() - t0) / (repeats * segment)
    return BenchResult(runs, compile_s, seconds * 1e3, runs / seconds, _peak_mb())


def _positive_list(text: str, flag: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise UserError(f"{flag} {text!r} is not a comma-separated list of whole numbers >= 1 "
                        "(e.g. 1,4,16)")
    if len(set(values)) < len(values):
        raise UserError(f"{flag} {text!r} names a value twice; name each once (e.g. 1,4,16)")
    return values


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if "--count" in argv:  # make bench ARGS=--count: the counted bound
        bound.main([a for a in argv if a != "--count"])
        return
    parser = OneLineParser(
        prog="python -m benchmark bench",
        description="Run-steps per second of a GAN at batch 64 with R runs vmapped.",
    )
    parser.add_argument("--model", default="ns_gan", help="model to time (default: ns_gan)")
    parser.add_argument("--runs", default=None,
                        help="comma-separated R values (default: 1,4,16,64; on GPU/TPU "
                        "1,4,16,64,128,256)")
    parser.add_argument("--segment", type=int, default=None,
                        help="steps per timed call (default: 1 on CPU, 100 on accelerators)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed calls per R (default: 3 on CPU, 5 on accelerators)")
    parser.add_argument("--save", type=Path, default=None,
                        help="also write the figures as a throughput table that python -m "
                        "benchmark plan --throughput reads (e.g. results/bench/throughput.json)")
    parser.add_argument("--count", action="store_true",
                        help="print the bound counted by XLA instead (python -m benchmark "
                        "bound; its options follow)")
    args = parser.parse_args(argv)
    cpu = jax.default_backend() == "cpu"
    default = "1,4,16,64" if cpu else "1,4,16,64,128,256"
    runs = _positive_list(args.runs if args.runs is not None else default, "--runs")
    for name in ("segment", "repeats"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise UserError(f"--{name} {getattr(args, name)} must be >= 1")
    with user_input():
        make_run(args.model, "triangles", 0)  # an unknown model: one line
    why = bound.unsupported(bound.setup(args.model, (28, 28, 1))[1])
    if why is not None:
        print(f"skipped {why}")
        return
    segment = args.segment or (1 if cpu else 100)
    repeats = args.repeats or (3 if cpu else 5)
    device = jax.local_devices()[0]
    print(f"backend {jax.default_backend()} ({device.device_kind}, {jax.local_device_count()} "
          f"device(s)); model {args.model}; batch 64; {segment} step(s) per call x {repeats}")
    print(f"{'runs':>5} {'compile s':>10} {'step ms':>10} {'run-steps/s':>12} {'peak MiB':>9}")
    best = None
    measured = []
    for r in runs:
        try:
            res = measure(args.model, r, segment=segment, repeats=repeats)
        except Exception as err:  # XlaRuntimeError RESOURCE_EXHAUSTED and host MemoryError
            if "RESOURCE_EXHAUSTED" in str(err) or isinstance(err, MemoryError):
                print(f"{r:>5} out of memory: the largest R that fits is below {r}")
                break
            raise
        peak = f"{res.peak_mb:9.0f}" if res.peak_mb is not None else f"{'-':>9}"
        print(f"{r:>5} {res.compile_s:10.1f} {res.step_ms:10.1f} {res.run_steps_per_s:12.1f} "
              f"{peak}", flush=True)
        measured.append(res)
        if best is None or res.run_steps_per_s > best.run_steps_per_s:
            best = res
    if best is not None:
        print(f"peak throughput: {best.run_steps_per_s:.1f} run-steps/s at R={best.runs}")
    if args.save is not None:
        atomic_write(args.save, json.dumps({
            "device": device.device_kind, "source": "python -m benchmark bench",
            "training": [{"model": args.model, "shape": "28x28x1", "precision": "float32",
                          "runs": m.runs, "run_steps_per_s": m.run_steps_per_s,
                          "step_ms": m.step_ms, "compile_s": m.compile_s, "segment": segment}
                         for m in measured],
            "fid_images_per_s": {}}, indent=1) + "\n")
        print(f"wrote {args.save} (python -m benchmark plan --throughput {args.save})")

