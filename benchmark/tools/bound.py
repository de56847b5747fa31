"""The bound, counted: what a run-step costs by XLA's own count, and what the peak of a GPU
allows (docs/speed.md, "The bound, counted").

For each model and image shape the training step is lowered and compiled (on this machine's
backend, usually the CPU) exactly as the engine compiles it, one step per call, and XLA's
``cost_analysis()`` gives its FLOPs and bytes accessed, ``memory_analysis()`` its memory
(arguments, outputs, temporaries). Each is counted for one run and for ``VMAPPED`` runs
vmapped, and reported per run-step; a model with n_disc > 1 is counted with and without the G
update and weighted by the share of steps that have one (1 / n_disc). Memory grows linearly
with the runs of a task: ``fixed + per_run * R``, from the two counts, gives the largest R
that fits a device.

Set against a GPU's published peaks (:data:`PEAKS`) this gives two lower bounds on a
run-step's time, FLOPs / peak FLOP/s and bytes / peak bandwidth; the larger one bounds it. The
bytes are the CPU compiler's (its fusion decides which intermediates go to memory; a GPU
fuses differently), so the memory bound is approximate; a floor under it is reading and
writing the run's state once per step (``state_bytes``). These are counts, not measurements.

``python -m benchmark bound [--models ...] [--shapes 28x28x1,...]`` (or ``make bench
ARGS=--count``) prints the table; counts are cached in ``<cache>/bound/counts.json`` and the
table counted for docs/speed.md ships as ``benchmark/tools/bound_counts.json``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp

import models as model_registry
from benchmark.data import REGISTRY as DATASETS
from benchmark.errors import OneLineParser, UserError, user_input
from benchmark.io import atomic_write, cache_dir
from benchmark.training import Structure, init_runs, train_segment
from metrics import features, inception
from models import architectures
from sweeps.runs import RunSpec, make_run

SHAPES: tuple[tuple[int, int, int], ...] = ((28, 28, 1), (32, 32, 3), (64, 64, 3))
VMAPPED = 4  # runs of the vmapped count (and the second point of the memory line)
SHIPPED = Path(__file__).with_name("bound_counts.json")
COUNT_VERSION = 2  # bump when what is counted changes (2: G's step reuses the D step's pass)


@dataclasses.dataclass(frozen=True)
class Peak:
    """A GPU's published peaks (dense, no sparsity) and its memory, with their source."""

    name: str
    fp32: float  # FLOP/s, float32 without tensor cores
    tf32: float  # FLOP/s, TF32 tensor cores, dense
    bf16: float  # FLOP/s, bf16 tensor cores, dense
    bandwidth: float  # bytes/s of device memory
    memory: float  # bytes of device memory
    source: str


# The data sheets give tensor-core figures "with sparsity"; the dense figure is half of it.
PEAKS: dict[str, Peak] = {
    "h100": Peak("H100 SXM", 67e12, 494.5e12, 989.5e12, 3.35e12, 80e9,
                 "NVIDIA H100 Tensor Core GPU data sheet, H100 SXM column: FP32 67 TFLOPS, "
                 "TF32 989 and BF16 1,979 TFLOPS with sparsity (half dense), HBM3 3.35 TB/s, "
                 "80 GB"),
    "a100": Peak("A100 SXM 80GB", 19.5e12, 156e12, 312e12, 2.039e12, 80e9,
                 "NVIDIA A100 Tensor Core GPU data sheet, A100 80GB SXM column: FP32 19.5 "
                 "TFLOPS, TF32 156 and BF16 312 TFLOPS dense (312 and 624 with sparsity), "
                 "HBM2e 2,039 GB/s, 80 GB"),
    "h200": Peak("H200 SXM", 67e12, 494.5e12, 989.5e12, 4.8e12, 141e9,
                 "NVIDIA H200 Tensor Core GPU data sheet, H200 SXM column: FP32 67 TFLOPS, "
                 "TF32 989 and BF16 1,979 TFLOPS with sparsity (half dense), HBM3e 4.8 TB/s, "
                 "141 GB"),
}
PRECISIONS = ("fp32", "tf32", "bf16")


def shape_name(shape: Sequence[int]) -> str:
    return "x".join(str(int(s)) for s in shape)


def parse_shape(text: str) -> tuple[int, int, int]:
    """``28x28x1`` -> (28, 28, 1)."""
    parts = text.lower().split("x")
    if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise UserError(f"image shape {text!r} is not HxWxC, e.g. 28x28x1")
    return tuple(int(p) for p in parts)  # type: ignore[return-value]


def num_classes(shape: Sequence[int]) -> int:
    """Classes of the registered labelled data set of this shape (the most; 10 where none
    has labels): what the engine's ``Structure.of`` is given for a model that needs labels."""
    counts = [int(s.num_classes) for s in DATASETS.values()
              if tuple(s.image_shape) == tuple(shape) and s.num_classes]
    return max(counts, default=10)


def setup(model: str, shape: Sequence[int]) -> tuple[RunSpec, Structure]:
    """The run of ``model`` at the author defaults and its structure at ``shape``, built as
    the engine builds it (``Structure.of`` with the data set's classes, kept where the model
    needs labels)."""
    shape = tuple(int(s) for s in shape)
    spec = make_run(model, "triangles", 0)
    return spec, Structure.of(spec, shape, num_classes(shape))


def unsupported(structure: Structure) -> str | None:
    """Why ``structure``'s architecture cannot take its image shape (one line), or None."""
    why = structure.architecture.unsupported(structure.image_shape)
    if why is None:
        return None
    return f"{structure.model} at {shape_name(structure.image_shape)}: {why}"


def train_labels(structure: Structure, num_train: int, seed: int = 0) -> jax.Array | None:
    """Synthetic class labels of a train split of ``num_train`` images where the step takes
    labels (:attr:`Structure.needs_labels`, the engine's rule), else None: uniform in
    [0, num_classes), int32, as a data set's (their values do not change a step's cost)."""
    if not structure.needs_labels:
        return None
    return jax.random.randint(jax.random.key(seed), (num_train,), 0,
                              structure.num_classes or num_classes(structure.image_shape),
                              jnp.int32)


class Unsupported(ValueError):
    """A model whose architecture cannot take an image shape: skipped, with the reason."""


def train_size(shape: Sequence[int]) -> int:
    """Train-split size of the registered data set of this shape (the largest one; 60,000
    for an unregistered shape): the data set sits on the device beside the runs."""
    sizes = [int(s.splits["train"]) for s in DATASETS.values()
             if tuple(s.image_shape) == tuple(shape)]
    return max(sizes) if sizes else 60_000


@dataclasses.dataclass(frozen=True)
class Count:
    """XLA's count of one model's training step at one image shape, per run-step."""

    model: str
    shape: str
    n_disc: int
    flops: float  # per run-step, vmapped (VMAPPED runs), G update weighted by 1 / n_disc
    bytes_accessed: float  # likewise
    flops_one: float  # per run-step, one run
    bytes_one: float
    transcendentals: float
    state_bytes: float  # one run's state (parameters, Adam moments, BN, perm, ...)
    fixed_bytes: float  # device memory that does not grow with R (the data set, ...)
    per_run_bytes: float  # device memory per run of a task (state in and out, temporaries)
    num_train: int
    compile_s: float  # seconds this machine took to compile every program of the count
    backend: str
    jax_version: str
    version: int = COUNT_VERSION

    @property
    def key(self) -> str:
        return f"{self.model}@{self.shape}"

    def max_runs(self, memory: float) -> int:
        """The largest R whose group fits ``memory`` bytes (0: not even one)."""
        return max(0, math.floor((memory - self.fixed_bytes) / self.per_run_bytes))

    def group_bytes(self, runs: int) -> float:
        return self.fixed_bytes + self.per_run_bytes * runs

    def bound(self, peak: Peak, precision: str = "fp32") -> tuple[float, str]:
        """(best run-steps/s, "compute" or "memory"): the larger of the two lower bounds on a
        run-step's time at ``peak``."""
        compute = self.flops / getattr(peak, precision)
        memory = self.bytes_accessed / peak.bandwidth
        return 1.0 / max(compute, memory), "compute" if compute >= memory else "memory"


def _tree_bytes(tree) -> int:
    return sum(math.prod(a.shape) * jnp.dtype(a.dtype).itemsize
               for a in jax.tree.leaves(tree))


def _compile(structure: Structure, runs: int, num_train: int, g_step: bool):
    """The one-step program of ``runs`` runs, compiled from abstract arguments."""
    seeds = jax.ShapeDtypeStruct((runs,), jnp.uint32)
    states = jax.eval_shape(lambda s: init_runs(structure, num_train, s), seeds)
    spec = make_run(structure.model, "triangles", 0)
    hps = {k: jax.ShapeDtypeStruct((runs,), jnp.float32) for k in spec.hp}
    data = jax.ShapeDtypeStruct((num_train, *structure.image_shape), jnp.uint8)
    labels = jax.eval_shape(lambda: train_labels(structure, num_train))
    start = jax.ShapeDtypeStruct((), jnp.int32)
    lowered = train_segment.lower(states, hps, data, start, structure=structure, scale=1 / 255,
                                  num_steps=1, branch=True, unroll=True, g_steps=(g_step,),
                                  labels=labels)
    return lowered.compile(), _tree_bytes(states) / runs


def _costs(compiled) -> tuple[float, float, float]:
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    return (float(cost.get("flops", 0.0)), float(cost.get("bytes accessed", 0.0)),
            float(cost.get("transcendentals", 0.0)))


def _memory(compiled) -> float:
    """Device bytes the program holds while it runs: arguments, outputs not aliased to a
    donated argument, temporaries."""
    m = compiled.memory_analysis()
    return float(m.argument_size_in_bytes + m.output_size_in_bytes - m.alias_size_in_bytes
                 + m.temp_size_in_bytes)


def count(model: str, shape: Sequence[int], *, vmapped: int = VMAPPED) -> Count:
    """Compile ``model``'s step at ``shape`` (author-default structure; synthetic labels where
    the model needs them) and count it. :class:`Unsupported` where its architecture cannot
    take ``shape``."""
    shape = tuple(int(s) for s in shape)
    _, structure = setup(model, shape)
    why = unsupported(structure)
    if why is not None:
        raise Unsupported(why)
    num_train = train_size(shape)
    started = time.perf_counter()
    share = 1.0 / structure.n_disc  # long-run share of steps with a G update
    flops = {1: 0.0, vmapped: 0.0}
    bytes_ = {1: 0.0, vmapped: 0.0}
    transcendentals = 0.0
    memory, state_bytes = {}, 0.0
    for g_step, weight in ((True, share), (False, 1.0 - share)):
        if weight == 0.0:
            continue
        for runs in (1, vmapped):
            compiled, state_bytes = _compile(structure, runs, num_train, g_step)
            f, b, t = _costs(compiled)
            flops[runs] += weight * f / runs
            bytes_[runs] += weight * b / runs
            if runs == vmapped:
                transcendentals += weight * t / runs
            memory[runs] = max(memory.get(runs, 0.0), _memory(compiled))
    per_run = (memory[vmapped] - memory[1]) / (vmapped - 1)
    return Count(model, shape_name(shape), structure.n_disc, flops[vmapped], bytes_[vmapped],
                 flops[1], bytes_[1], transcendentals, state_bytes, memory[1] - per_run,
                 per_run, num_train, time.perf_counter() - started, jax.default_backend(),
                 jax.__version__)


@dataclasses.dataclass(frozen=True)
class ImageCount:
    """XLA's count of one image through an evaluation network, in inference mode:
    ``inception`` (FID's features of one 299x299 image) or ``generator@HxWxC``."""

    name: str
    flops: float
    bytes_accessed: float
    version: int = COUNT_VERSION


def count_images(name: str, batch: int = 8) -> ImageCount:
    """Compile ``name``'s network for a batch of ``batch`` images and count it per image."""
    if name == "inception":
        net = inception.FIDInceptionV3()
        images = jax.ShapeDtypeStruct((batch, 299, 299, 3), jnp.float32)
        params = jax.eval_shape(lambda x: net.init(jax.random.key(0), x), images)
        fn = features._inception_fn("compare_gan", jax.lax.Precision.HIGHEST)
        compiled = jax.jit(fn).lower(params, images).compile()
    elif name.startswith("generator@"):
        shape = parse_shape(name.partition("@")[2])
        net = architectures.make_generator(shape, "lrelu")
        z = jax.ShapeDtypeStruct((batch, model_registry.Z_DIM), jnp.float32)
        variables = jax.eval_shape(lambda z: net.init(jax.random.key(0), z, train=False), z)
        compiled = jax.jit(lambda v, z: net.apply(v, z, train=False)).lower(variables,
                                                                              z).compile()
    else:
        raise ValueError(f"unknown network {name!r}: inception or generator@HxWxC")
    flops, bytes_, _ = _costs(compiled)
    return ImageCount(name, flops / batch, bytes_ / batch)


# --- the cache ---------------------------------------------------------------------------------


def cache_path() -> Path:
    return cache_dir() / "bound" / "counts.json"


def _read(path: Path) -> dict[str, Count | ImageCount]:
    """The counts of a JSON file, keyed ``model@shape`` (training) or by network name
    (images); entries of another version or form are skipped (recounted when needed)."""
    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    out: dict[str, Count | ImageCount] = {}
    if not isinstance(raw, dict):
        return out
    for kind, section in ((Count, "counts"), (ImageCount, "images")):
        fields = {f.name for f in dataclasses.fields(kind)}
        for entry in raw.get(section, []):
            if isinstance(entry, dict) and set(entry) == fields \
                    and entry["version"] == COUNT_VERSION:
                c = kind(**entry)
                out[c.key if kind is Count else c.name] = c
    return out


def write_counts(path: Path, counts: Iterable[Count | ImageCount]) -> None:
    counts = list(counts)
    payload = {
        "counts": [dataclasses.asdict(c) for c in sorted(
            (c for c in counts if isinstance(c, Count)), key=lambda c: c.key)],
        "images": [dataclasses.asdict(c) for c in sorted(
            (c for c in counts if isinstance(c, ImageCount)), key=lambda c: c.name)],
    }
    atomic_write(path, json.dumps(payload, indent=1) + "\n")


def known_counts(extra: Sequence[Path] = ()) -> dict[str, Count | ImageCount]:
    """Every count available without compiling: the shipped table, then ``extra`` files,
    then this machine's cache (later ones win)."""
    out: dict[str, Count | ImageCount] = {}
    for path in (SHIPPED, *extra, cache_path()):
        out.update(_read(Path(path)))
    return out


def image_counts_for(names: Sequence[str], *, recount: bool = False) -> dict[str, ImageCount]:
    """The image counts of ``names`` (``inception``, ``generator@HxWxC``), cached like
    :func:`counts_for`."""
    known = {} if recount else known_counts()
    mine = _read(cache_path())
    out = {}
    for name in names:
        c = known.get(name)
        if not isinstance(c, ImageCount):
            c = count_images(name)
            mine[name] = c
            write_counts(cache_path(), mine.values())
        out[name] = c
    return out


def counts_for(models: Sequence[str], shapes: Sequence[Sequence[int]], *, recount: bool = False,
               on_count=None, on_skip=None) -> list[Count]:
    """The counts of every model at every shape: known ones reused, the others compiled and
    added to the cache as each finishes (``on_count(count)`` hears of each). A model whose
    architecture cannot take a shape has no count: ``on_skip(reason)`` hears of it (one
    line; default: raise :class:`Unsupported`)."""
    known = {} if recount else known_counts()
    mine = _read(cache_path())
    out = []
    for shape in shapes:
        for model in models:
            key = f"{model}@{shape_name(shape)}"
            c = known.get(key)
            if not isinstance(c, Count):
                try:
                    c = count(model, shape)
                except Unsupported as err:
                    if on_skip is None:
                        raise
                    on_skip(str(err))
                    continue
                mine[key] = c
                write_counts(cache_path(), mine.values())
                if on_count is not None:
                    on_count(c)
            out.append(c)
    return out


# --- the table ---------------------------------------------------------------------------------


def _rate(c: Count, peak: Peak, precision: str) -> str:
    rate, bound = c.bound(peak, precision)
    return f"{rate:,.0f} ({bound[:3]})"


def table(counts: Sequence[Count], peaks: Sequence[str] = ("h100", "a100"),
          precisions: Sequence[str] = ("fp32", "tf32")) -> str:
    """The bound as a markdown table: one row per model and shape."""
    head = ["model", "shape", "n_disc", "GFLOP/run-step", "GB accessed/run-step",
            "state MB/run", "device MB/run", "max R (80 GB)"]
    for p in peaks:
        head += [f"{PEAKS[p].name} {q} run-steps/s" for q in precisions]
    head.append(f"{PEAKS[peaks[0]].name} FLOPs alone, {'/'.join(precisions)}")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in counts:
        cells = [c.model, c.shape, str(c.n_disc), f"{c.flops / 1e9:.2f}",
                 f"{c.bytes_accessed / 1e9:.2f}", f"{c.state_bytes / 1e6:.0f}",
                 f"{c.per_run_bytes / 1e6:.0f}", str(c.max_runs(80e9))]
        for p in peaks:
            cells += [_rate(c, PEAKS[p], q) for q in precisions]
        cells.append(" / ".join(f"{getattr(PEAKS[peaks[0]], q) / c.flops:,.0f}"
                                for q in precisions))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def explain(peaks: Sequence[str] = ("h100", "a100")) -> str:
    return "\n".join(
        ["Counted by XLA on this machine's compiler, not measured. Run-steps/s is the best a "
         "run-step allows at the published peak: 1 / max(FLOPs / peak FLOP/s, bytes / "
         "bandwidth); (com) compute-bound, (mem) memory-bound. Bytes are the CPU compiler's "
         "count (a GPU fuses differently, and a run-step cannot move less than its state "
         "read and written once: 2 x state MB); the last column ignores memory. Peaks:"]
        + [f"- {PEAKS[p].source}" for p in peaks])


def main(argv: list[str] | None = None) -> None:
    parser = OneLineParser(prog="python -m benchmark bound",
                           description="FLOPs, bytes and memory of each model's training step "
                           "as XLA counts them, against the peaks of an H100 and an A100.")
    parser.add_argument("--models", default=",".join(model_registry.PAPER_MODELS),
                        help="comma-separated registered models, or all (default: the "
                        "paper's eight)")
    parser.add_argument("--shapes", default=",".join(shape_name(s) for s in SHAPES),
                        help="comma-separated HxWxC (default: 28x28x1,32x32x3,64x64x3)")
    parser.add_argument("--recount", action="store_true",
                        help="compile and count again even where a count is cached")
    parser.add_argument("--out", type=Path, default=None,
                        help="also write the counts as JSON here (e.g. to carry them)")
    args = parser.parse_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if models == ["all"]:
        models = model_registry.names()
    shapes = [parse_shape(s.strip()) for s in args.shapes.split(",") if s.strip()]
    if not models or not shapes:
        raise UserError("give at least one model and one shape, e.g. --models ns_gan "
                        "--shapes 28x28x1")
    with user_input():
        for model in models:
            make_run(model, "triangles", 0)
    started = time.perf_counter()

    def told(c: Count) -> None:
        print(f"counted {c.key} in {c.compile_s:.0f} s", flush=True)

    def skipped(why: str) -> None:
        print(f"skipped {why}", flush=True)

    counts = counts_for(models, shapes, recount=args.recount, on_count=told, on_skip=skipped)
    if counts:
        print(table(counts))
        print()
    print(explain())
    print(f"({len(counts)} counts in {time.perf_counter() - started:.0f} s; cache "
          f"{cache_path()})")
    if args.out is not None:
        write_counts(args.out, counts)
        print(f"wrote {args.out}")
