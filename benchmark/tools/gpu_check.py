"""The prepared GPU check: one command that measures, within a time budget, what the plan and
the README need from a GPU (docs/speed.md, "The GPU check").

``python -m benchmark gpu-check --budget 480`` (``make gpu-check``) runs a fixed list of
items, most important first, each in a fresh process (so an out-of-memory error, a hang or
torch's memory do not reach the next item, and the GPU's memory is free for each):

1. training: run-steps/s, step time, peak device memory, the program's memory and compile
   time for R = 1, 16, 64, 256 runs vmapped (NS GAN at 28x28x1, float32, first), then the
   largest R that fits (from the R the counted memory says fits, doubled until the first
   out-of-memory), for NS GAN,
   WGAN-GP (double backward), BEGAN and the VAE at 28x28x1 and NS GAN at 32x32x3 and
   64x64x3, in float32 and TF32 (``--precision tf32``);
2. the PyTorch peer on the same GPU (``peer_torch.py``, 1 and 8 processes, full float32 and
   TF32) for the ratio ours / peer from one run;
3. FID's Inception features, images/s at batch 250, ours (float32 and TF32) and
   pytorch-fid's if it is importable;
4. the fraction of the bound (:mod:`benchmark.tools.bound`) each training figure reaches;
5. ``--models a,b`` (any registered models, e.g. the labelled cgan or the encoder bigan): the
   same training figures for each at 28x28x1 in float32, after the rest. A model that needs
   labels is given random class labels (:func:`benchmark.tools.bound.setup`, the engine's
   structure and rule); one whose architecture cannot take the shape is reported as skipped,
   with the reason.

Every measured figure is appended to ``records.jsonl`` the moment it exists, and after every
item ``report.md`` and ``throughput.json`` (what ``plan`` reads) are rewritten atomically: an
item cut by the budget (its process is killed when the budget runs out) keeps the R values
it finished, and the command stops before starting an item it has no time for; the report
lists what was skipped. Nothing here is timed in the tests (tests/tools/test_gpu_check.py runs the
structure on CPU with tiny sizes).

The peer script is looked for at ``--peer``, ``.carry/peer_torch.py`` (``make gpu-stage``
copies ``../shared/tools/peer_torch.py`` there; ``.carry/`` is git-ignored, so carry it to
the GPU machine), then beside the checkout (``benchmark.tools.bench_peer.find_peer``).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from benchmark.errors import OneLineParser, UserError, user_input
from benchmark.io import atomic_write
from benchmark.tools import bench_fid, bound
from benchmark.tools.bench_peer import find_peer
from benchmark.training import init_runs, matmul_precision, train_segment
from metrics import features, inception
from sweeps.runs import make_run

DEFAULT_OUT = Path("results") / "gpu_check"
CARRY = Path(".carry")
RECORDS = "records.jsonl"
REPORT = "report.md"
THROUGHPUT = "throughput.json"
LADDER = (1, 16, 64, 256)
RESERVE_S = 5.0  # kept back from the budget to write the report
MIN_ITEM_S = 20.0  # an item is not started with less time than this left


@dataclasses.dataclass(frozen=True)
class Item:
    """One unit of work, run in its own process: ``kind`` is train, peer or fid."""

    kind: str
    model: str = ""
    shape: str = ""
    precision: str = "float32"
    runs: tuple[int, ...] = ()
    grow: bool = False  # after ``runs``, R from the counted fit, doubled to the first OOM
    procs: int = 1  # peer processes

    @property
    def label(self) -> str:
        if self.kind == "train":
            more = " then doubled to the first OOM" if self.grow else ""
            return (f"train {self.model} {self.shape} {self.precision} R="
                    f"{','.join(map(str, self.runs))}{more}")
        if self.kind == "peer":
            return f"peer {self.procs} process(es) {self.precision}"
        return f"fid batch {self.shape}"


def items(tiny: bool = False, models: Sequence[str] = ()) -> list[Item]:
    """The check's work in the order it is done (module doc): what matters most first;
    ``models``: more models to train at 28x28x1 in float32, last."""
    fp, tf = "float32", "tf32"
    if tiny:  # the tests: the same kinds, the smallest sizes
        return [Item("train", "ns_gan", "28x28x1", fp, (1, 2)),
                Item("peer", precision=fp, procs=1),
                Item("fid", shape="2"),
                Item("train", "vae", "28x28x1", tf, (1,))] + [
                    Item("train", m, "28x28x1", fp, (1,)) for m in models]
    coarse = (1, 64, 256)
    return _paper_items(fp, tf, coarse) + [Item("train", m, "28x28x1", fp, coarse)
                                           for m in models]


def _paper_items(fp: str, tf: str, coarse: tuple[int, ...]) -> list[Item]:
    return [
        Item("train", "ns_gan", "28x28x1", fp, LADDER),
        Item("peer", precision=fp, procs=1),
        Item("peer", precision=fp, procs=8),
        Item("train", "wgan_gp", "28x28x1", fp, coarse),
        Item("train", "began", "28x28x1", fp, coarse),
        Item("train", "vae", "28x28x1", fp, coarse),
        Item("train", "ns_gan", "32x32x3", fp, coarse),
        Item("train", "ns_gan", "64x64x3", fp, coarse),
        Item("fid", shape="250"),
        Item("train", "ns_gan", "28x28x1", tf, LADDER),
        Item("peer", precision=tf, procs=1),
        Item("peer", precision=tf, procs=8),
        Item("train", "ns_gan", "28x28x1", fp, (), grow=True),
        Item("train", "wgan_gp", "28x28x1", tf, coarse),
        Item("train", "began", "28x28x1", tf, coarse),
        Item("train", "vae", "28x28x1", tf, coarse),
        Item("train", "ns_gan", "32x32x3", tf, coarse),
        Item("train", "ns_gan", "64x64x3", tf, coarse),
        Item("train", "wgan_gp", "28x28x1", fp, (16,), grow=True),
        Item("train", "began", "28x28x1", fp, (16,), grow=True),
        Item("train", "vae", "28x28x1", fp, (16,), grow=True),
        Item("train", "ns_gan", "32x32x3", fp, (16,), grow=True),
        Item("train", "ns_gan", "64x64x3", fp, (16,), grow=True),
    ]


# --- records -----------------------------------------------------------------------------------


def append_record(path: Path, record: dict) -> None:
    """One JSON line, flushed to disk before returning (a killed writer loses at most the
    line it was writing, which :func:`read_records` skips)."""
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_records(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


# --- the workers (one item each, in a fresh process) --------------------------------------------


def _oom(err: BaseException) -> bool:
    text = str(err)
    return isinstance(err, MemoryError) or "RESOURCE_EXHAUSTED" in text \
        or "out of memory" in text.lower()


def _train(item: Item, records: Path, tiny: bool) -> None:
    device = jax.local_devices()[0]
    shape = bound.parse_shape(item.shape)
    spec, structure = bound.setup(item.model, shape)
    if tiny:
        structure = dataclasses.replace(structure, batch_size=4)
    num_train = 64 if tiny else bound.train_size(shape)
    segment = 1 if tiny else 50
    min_seconds = 0.0 if tiny else 1.5
    base = dict(kind="train", model=item.model, shape=item.shape, precision=item.precision,
                device=device.device_kind, backend=jax.default_backend(), segment=segment,
                batch=structure.batch_size)
    why = bound.unsupported(structure)
    if why is not None:
        append_record(records, dict(base, skipped=why))
        return
    data = jax.random.bits(jax.random.key(0), (num_train, *shape), jnp.uint8)
    labels = bound.train_labels(structure, num_train)  # None where the model takes none

    def measure(runs: int) -> dict:
        states = init_runs(structure, num_train, jnp.arange(runs, dtype=jnp.uint32))
        hps = {k: jnp.full((runs,), v, jnp.float32) for k, v in spec.hp.items()}
        kwargs = dict(structure=structure, scale=1 / 255, num_steps=segment, branch=True,
                      unroll=1, labels=labels)
        t0 = time.perf_counter()
        with matmul_precision(item.precision):
            compiled = train_segment.lower(states, hps, data, jnp.int32(0), **kwargs).compile()
        compile_s = time.perf_counter() - t0
        mem = compiled.memory_analysis()
        program = (mem.argument_size_in_bytes + mem.output_size_in_bytes
                   - mem.alias_size_in_bytes + mem.temp_size_in_bytes) if mem else None
        states, m = compiled(states, hps, data, jnp.int32(0), labels=labels)  # warm-up
        jax.block_until_ready((states, m))
        calls, t0 = 0, time.perf_counter()
        while True:
            states, m = compiled(states, hps, data, jnp.int32((calls + 1) * segment),
                                 labels=labels)
            jax.block_until_ready((states, m))
            calls += 1
            seconds = time.perf_counter() - t0
            if calls >= 2 and seconds >= min_seconds:
                break
        step = seconds / (calls * segment)
        stats = device.memory_stats() or {}
        return dict(base, runs=runs, compile_s=compile_s, step_ms=step * 1e3,
                    run_steps_per_s=runs / step, program_bytes=program,
                    peak_bytes=stats.get("peak_bytes_in_use"), calls=calls)

    ladder = list(item.runs)
    if item.grow:
        r = _first_large_r(item, device, max(ladder, default=256))
        while r <= 1 << 16:
            ladder.append(r)
            r *= 2
    for runs in ladder:
        try:
            record = measure(runs)
        except Exception as err:
            if not _oom(err):
                raise
            append_record(records, dict(base, runs=runs, oom=True, error=str(err)[:300]))
            return
        append_record(records, record)


def _first_large_r(item: Item, device, above: int) -> int:
    """Where the search for the largest R starts: the R the counted memory line says fits this
    device (a multiple of 16) when that is above ``above``, else twice ``above``."""
    count = bound.known_counts().get(f"{item.model}@{item.shape}")
    limit = (device.memory_stats() or {}).get("bytes_limit")
    if isinstance(count, bound.Count) and limit:
        r = count.max_runs(float(limit)) // 16 * 16
        if r > above:
            return r
    return 2 * above


def _peer_script(explicit: str | None) -> Path | None:
    if explicit:
        return Path(explicit) if Path(explicit).is_file() else None
    if (CARRY / "peer_torch.py").is_file():
        return CARRY / "peer_torch.py"
    return find_peer()


def _peer(item: Item, records: Path, tiny: bool, peer: str | None) -> None:
    base = dict(kind="peer", procs=item.procs, precision=item.precision)
    script = _peer_script(peer)
    if script is None:
        append_record(records, dict(base, skipped="peer_torch.py not found: run make "
                                    "gpu-stage (copies ../shared/tools/peer_torch.py to "
                                    ".carry/) and carry .carry, or pass --peer PATH"))
        return
    try:
        import torch
    except ImportError:
        append_record(records, dict(base, skipped="torch is not importable here"))
        return
    device = "cuda" if torch.cuda.is_available() else "cpu"
    steps = 2 if tiny else 200
    env = dict(os.environ, PEER_DEVICE=device, PEER_TF32="1" if item.precision == "tf32"
               else "0")
    proc = subprocess.run([sys.executable, str(script), str(item.procs), str(steps)], env=env,
                          capture_output=True, text=True, check=False)
    match = re.search(r"([\d.]+) run-steps/s total", proc.stdout)
    if proc.returncode != 0 or match is None:
        append_record(records, dict(base, error=(proc.stdout + proc.stderr)[-500:]))
        return
    append_record(records, dict(base, device=device, steps=steps, script=str(script),
                                run_steps_per_s=float(match.group(1))))


def _fid(item: Item, records: Path, tiny: bool) -> None:
    batch = int(item.shape)
    batches = 1 if tiny else 4
    device = jax.local_devices()[0].device_kind
    images = np.random.default_rng(0).random((batch, 299, 299, 3), dtype=np.float32)
    variables = inception.FIDInceptionV3().init(jax.random.key(0), jnp.zeros((1, 299, 299, 3)))
    x = jax.device_put(images)
    for precision, level in (("float32", jax.lax.Precision.HIGHEST),
                             ("tf32", jax.lax.Precision.HIGH)):
        fn = features._inception_fn("compare_gan", level)

        def call(fn=fn):
            jax.block_until_ready(features._extract_batch(fn, variables, x))

        rate = batch * batches / bench_fid._time(call, batches)
        append_record(records, dict(kind="fid", impl="ours", precision=precision, batch=batch,
                                    device=device, images_per_s=rate))
    theirs = bench_fid.bench_pytorch_fid(images, batches)
    if theirs is None:
        append_record(records, dict(kind="fid", impl="pytorch-fid", batch=batch,
                                    skipped="pytorch-fid not importable (carry its wheel: "
                                    "make gpu-stage)"))
    else:
        append_record(records, dict(kind="fid", impl="pytorch-fid", batch=batch, device=device,
                                    images_per_s=theirs, precision="torch defaults"))


def worker(item: Item, records: Path, tiny: bool, peer: str | None) -> None:
    """Run one item in this process, appending its records."""
    if item.kind == "train":
        _train(item, records, tiny)
    elif item.kind == "peer":
        _peer(item, records, tiny, peer)
    elif item.kind == "fid":
        _fid(item, records, tiny)
    else:
        raise ValueError(f"unknown item kind {item.kind!r}")


# --- the orchestrator ----------------------------------------------------------------------------


def run_subprocess(item: Item, out: Path, timeout: float, tiny: bool,
                   peer: str | None) -> str:
    """Run ``item`` in a fresh process for at most ``timeout`` s: "done", "cut" (killed at
    the budget) or "failed: ..."."""
    env = dict(os.environ)
    env.setdefault("XLA_PYTHON_CLIENT_MEM_FRACTION", "0.95")  # the largest R needs the memory
    if item.kind == "fid":
        env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"  # torch shares the GPU in this one
    cmd = [sys.executable, "-m", "benchmark.tools.gpu_check", "--worker",
           json.dumps(dataclasses.asdict(item)), "--out", str(out)]
    if tiny:
        cmd.append("--tiny")
    if peer:
        cmd += ["--peer", peer]
    # its own process group, so that a cut also ends what it started (the peer's processes)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return "cut"
    if proc.returncode != 0:
        tail = (stderr or stdout).strip().splitlines()[-1:] or ["(no output)"]
        return f"failed: {tail[0][:300]}"
    return "done"


Runner = Callable[[Item, Path, float, bool, "str | None"], str]


def check(out: Path, budget: float, *, tiny: bool = False, peer: str | None = None,
          runner: Runner = run_subprocess, clock: Callable[[], float] = time.monotonic,
          bound_file: Path | None = None, log: Callable[[str], None] = print,
          models: Sequence[str] = ()) -> dict:
    """Run the check's items in order within ``budget`` seconds, writing the report and the
    throughput table after each; returns the outcome of every item (its label -> status).
    ``models``: more models trained last (:func:`items`)."""
    start = clock()
    out.mkdir(parents=True, exist_ok=True)
    records = out / RECORDS
    records.unlink(missing_ok=True)
    counts = bound.known_counts([bound_file] if bound_file else [])
    outcomes: dict[str, str] = {}
    work = items(tiny, models)
    write_outputs(out, read_records(records), outcomes, work, budget, 0.0, counts)
    for item in work:
        left = budget - (clock() - start) - RESERVE_S
        if left < (1.0 if tiny else MIN_ITEM_S):
            outcomes[item.label] = "skipped: budget"
            continue
        log(f"[{clock() - start:6.0f} s] {item.label}")
        outcomes[item.label] = runner(item, out, left, tiny, peer)
        write_outputs(out, read_records(records), outcomes, work, budget, clock() - start,
                      counts)
    write_outputs(out, read_records(records), outcomes, work, budget, clock() - start, counts)
    return outcomes


# --- the outputs ---------------------------------------------------------------------------------


def _peak_of(device: str) -> bound.Peak | None:
    for key, peak in bound.PEAKS.items():
        if key in device.lower():
            return peak
    return None


def throughput_table(records: list[dict]) -> dict:
    """What ``plan`` reads (benchmark.tools.planning.Throughput)."""
    train = [r for r in records if r.get("kind") == "train" and "run_steps_per_s" in r
             and not r.get("oom")]  # neither out of memory nor skipped
    device = next((r["device"] for r in records if r.get("device")), "unknown")
    fid = {r["precision"]: r["images_per_s"] for r in records
           if r.get("kind") == "fid" and r.get("impl") == "ours" and "images_per_s" in r}
    keep = ("model", "shape", "precision", "runs", "run_steps_per_s", "step_ms", "compile_s",
            "peak_bytes", "program_bytes", "segment")
    return {"device": device, "measured_at": _now(),
            "training": [{k: r.get(k) for k in keep} for r in train],
            "fid_images_per_s": fid,
            "peer": [r for r in records if r.get("kind") == "peer"]}


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _fmt(value, spec: str, scale: float = 1.0) -> str:
    return "-" if value is None else format(value / scale, spec)


def report(records: list[dict], outcomes: dict[str, str], work: list[Item], budget: float,
           elapsed: float, counts: dict) -> str:
    device = next((r["device"] for r in records if r.get("device")), "unknown")
    peak = _peak_of(device)
    lines = [f"# GPU check on {device}", "",
             f"Budget {budget:.0f} s, {elapsed:.0f} s used; written "
             f"{_now()}. Measured "
             "(records.jsonl holds every figure); 'of bound' is the measured run-steps/s over "
             "the counted bound at the data sheet's peak "
             f"({peak.source if peak else 'no known peaks for this device'}).", ""]
    lines += ["## Training", "",
              "| model | shape | precision | R | compile s | step ms | run-steps/s | "
              "peak GiB | program GiB | of bound |", "|" + "---|" * 10]
    for r in (r for r in records if r.get("kind") == "train"):
        if r.get("oom"):
            lines.append(f"| {r['model']} | {r['shape']} | {r['precision']} | {r['runs']} | "
                         "out of memory | | | | | |")
            continue
        if r.get("skipped"):
            lines.append(f"| {r['model']} | {r['shape']} | {r['precision']} | | skipped: "
                         f"{r['skipped']} | | | | | |")
            continue
        c = counts.get(f"{r['model']}@{r['shape']}")
        frac = "-"
        if c is not None and peak is not None:
            best = c.bound(peak, "fp32" if r["precision"] == "float32" else "tf32")[0]
            frac = f"{r['run_steps_per_s'] / best:.1%}"
        lines.append(
            f"| {r['model']} | {r['shape']} | {r['precision']} | {r['runs']} | "
            f"{r['compile_s']:.1f} | {r['step_ms']:.2f} | {r['run_steps_per_s']:,.1f} | "
            f"{_fmt(r.get('peak_bytes'), '.2f', 2**30)} | "
            f"{_fmt(r.get('program_bytes'), '.2f', 2**30)} | {frac} |")
    lines += ["", "## The PyTorch peer (same GPU, one run per process)", "",
              "| processes | precision | run-steps/s | ours (NS GAN 28x28x1, same precision) | "
              "ratio ours/peer |", "|---|---|---|---|---|"]
    for r in (r for r in records if r.get("kind") == "peer"):
        if "run_steps_per_s" not in r:
            lines.append(f"| {r['procs']} | {r['precision']} | "
                         f"{r.get('skipped') or r.get('error', '')} | | |")
            continue
        ours = [t for t in records if t.get("kind") == "train" and t.get("model") == "ns_gan"
                and t.get("shape") == "28x28x1" and t.get("precision") == r["precision"]
                and "run_steps_per_s" in t and (t["runs"] == 1 if r["procs"] == 1 else True)]
        best = max((t["run_steps_per_s"] for t in ours), default=None)
        ratio = f"{best / r['run_steps_per_s']:.2f}" if best else "-"
        what = "R=1" if r["procs"] == 1 else "best R"
        lines.append(f"| {r['procs']} | {r['precision']} | {r['run_steps_per_s']:,.1f} | "
                     f"{_fmt(best, ',.1f')} ({what}) | {ratio} |")
    lines += ["", "## FID features (Inception, 299x299)", "",
              "| implementation | precision | batch | images/s |", "|---|---|---|---|"]
    for r in (r for r in records if r.get("kind") == "fid"):
        rate = _fmt(r["images_per_s"], ",.1f") if "images_per_s" in r else r.get("skipped", "")
        lines.append(f"| {r['impl']} | {r.get('precision', '')} | {r['batch']} | {rate} |")
    lines += ["", "## Items", ""]
    for item in work:
        lines.append(f"- {item.label}: {outcomes.get(item.label, 'not reached')}")
    return "\n".join(lines) + "\n"


def write_outputs(out: Path, records: list[dict], outcomes: dict[str, str], work: list[Item],
                  budget: float, elapsed: float, counts: dict) -> None:
    atomic_write(out / THROUGHPUT, json.dumps(throughput_table(records), indent=1) + "\n")
    atomic_write(out / REPORT, report(records, outcomes, work, budget, elapsed, counts))


def main(argv: list[str] | None = None) -> None:
    parser = OneLineParser(prog="python -m benchmark gpu-check",
                           description="The prepared GPU check: training throughput and "
                           "memory, the PyTorch peer and FID speed within a time budget.")
    parser.add_argument("--budget", type=float, default=480.0,
                        help="seconds for the whole check (default 480)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"where report.md and throughput.json go (default {DEFAULT_OUT})")
    parser.add_argument("--peer", default=None, help="path of peer_torch.py (default: "
                        ".carry/peer_torch.py, then ../shared/tools beside the checkout)")
    parser.add_argument("--bound", type=Path, default=None,
                        help="a counts JSON of python -m benchmark bound --out (default: the "
                        "shipped table and this machine's cache)")
    parser.add_argument("--models", default="",
                        help="comma-separated registered models to train too, at 28x28x1 in "
                        "float32 after the rest (e.g. cgan,bigan; default: none)")
    parser.add_argument("--tiny", action="store_true",
                        help="the smallest sizes (tests: structure only, nothing worth timing)")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)  # one item
    args = parser.parse_args(argv)
    if args.worker is not None:
        item = Item(**{k: tuple(v) if isinstance(v, list) else v
                       for k, v in json.loads(args.worker).items()})
        worker(item, args.out / RECORDS, args.tiny, args.peer)
        return
    if args.budget <= 0:
        raise UserError(f"--budget {args.budget} must be > 0 seconds")
    extra = [m.strip() for m in args.models.split(",") if m.strip()]
    with user_input():
        for model in extra:
            make_run(model, "triangles", 0)  # an unknown model: one line
    outcomes = check(args.out, args.budget, tiny=args.tiny, peer=args.peer,
                     bound_file=args.bound, models=extra)
    done = sum(1 for v in outcomes.values() if v == "done")
    print(f"{done}/{len(outcomes)} items done; report {args.out / REPORT}, throughput table "
          f"{args.out / THROUGHPUT} (python -m benchmark plan --throughput "
          f"{args.out / THROUGHPUT})")


if __name__ == "__main__":  # the device's plain python3 runs this module itself
    try:
        main()
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
