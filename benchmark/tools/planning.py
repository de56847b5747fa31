"""What a study costs before it runs: ``python -m benchmark plan`` (docs/speed.md, "plan").

Per data set and model: the runs, the groups (one compiled program each, at most the
profile's ``max_group`` runs), the run-steps, the evaluations and the images they score
(FID's generated samples; P/R/F1's inverted targets on the triangles), the checkpoint of the
largest group, the device memory it needs, and the projected hours on a named GPU.

A model without a bound count at its data set's shape (the shipped table and this machine's
cache; ``python -m benchmark bound`` adds one), or one that cannot train on a data set (it
needs labels the data set lacks, or its architecture rejects the shape), is left out with a
one-line note.

The hours come from a throughput table: the one ``gpu-check`` (or ``bench --save``) measured
and saved on that GPU (``--throughput``; a model it did not time is scaled from NS GAN at the
same shape by the counted FLOPs), else the bound counted by XLA (:mod:`benchmark.tools.bound`), and
the output says which, row by row: a bound is the fastest the GPU's data sheet allows, not a
measurement. Evaluation time on the bound is the counted FLOPs of the networks at the peak: FID's
Inception on every generated sample and G's forward passes; P/R/F1's inversion
(``restarts x steps`` Adam steps through G per target, forward and backward counted as three
forward passes) on the triangles.

Phase 3 retrains each model's best phase-1 configuration, unknown before phase 1 has run: it
is planned with the author defaults' structure (n_disc, D batch norm), 50 seeds per model and
data set (docs/protocol.md §6.7).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from pathlib import Path

import models
from benchmark import data as datasets
from benchmark.errors import OneLineParser, UserError, user_input
from benchmark.evaluation.evaluator import due_metrics
from benchmark.io import atomic_write
from benchmark.runner import sequences
from benchmark.runner.tasks import make_tasks
from benchmark.tools import bound
from metrics.columns import PrecisionRecallSettings
from metrics.inversion import THOROUGH_INVERSION, InversionConfig
from sweeps import config as configs
from sweeps.config import Config, resolve
from sweeps.runs import Study
from sweeps.studies import DATASETS, build_study

PHASES = ("phase1", "phase2", "phase3")
GOAL_HOURS = 48.0  # the whole study on one H100 (issue 19; the paper: > 6.85 P100 GPU-years)
DEFAULT_THROUGHPUT = Path("results") / "gpu_check" / "throughput.json"


@dataclasses.dataclass(frozen=True)
class Throughput:
    """A measured throughput table (written by ``gpu-check``): best run-steps/s per model,
    shape and precision at each R, and FID features' images/s."""

    device: str
    training: tuple[dict, ...]  # {"model", "shape", "precision", "runs", "run_steps_per_s"}
    fid_images_per_s: dict  # precision -> images/s of our Inception
    source: str

    @classmethod
    def read(cls, path: Path) -> Throughput:
        try:
            raw = json.loads(Path(path).read_text())
            return cls(str(raw["device"]), tuple(raw.get("training", [])),
                       dict(raw.get("fid_images_per_s", {})), str(path))
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise UserError(f"cannot read the throughput table {path} ({err}); pass the "
                            "throughput.json that gpu-check wrote, or drop --throughput to "
                            "plan on the bound") from None

    def rate(self, model: str, shape: str, precision: str, runs: int) -> float | None:
        """run-steps/s of ``model`` at ``shape``: at the largest measured R not above
        ``runs`` (else the smallest measured R); None if not measured."""
        rows = [r for r in self.training if r.get("model") == model and r.get("shape") == shape
                and r.get("precision") == precision and r.get("run_steps_per_s")]
        if not rows:
            return None
        below = [r for r in rows if r["runs"] <= runs]
        pick = max(below, key=lambda r: r["runs"]) if below else min(rows,
                                                                       key=lambda r: r["runs"])
        return float(pick["run_steps_per_s"])


@dataclasses.dataclass
class Line:
    """The plan of one model on one data set in one study."""

    study: str
    dataset: str
    model: str
    runs: int
    groups: int
    largest_group: int
    run_steps: int
    evaluations: int  # run-evaluations (runs x evaluation steps)
    fid_images: int  # generated images scored by FID, all evaluations
    prf_targets: int  # P/R/F1 targets inverted, all evaluations
    checkpoint_bytes: float  # the largest group's checkpoint (its runs' states)
    group_bytes: float  # device memory of the largest group (data set included)
    train_hours: float
    eval_hours: float
    source: str  # "measured", "scaled" or "bound"
    flops_hours: float = 0.0  # training at the peak FLOP/s alone: no GPU trains faster

    @property
    def hours(self) -> float:
        return self.train_hours + self.eval_hours


def study_of(name: str, profile: Config, datasets_: Sequence[str] | None,
             models: Sequence[str] | None) -> Study:
    """The runs of study ``name``; phase 3 with author-default structures (module doc)."""
    if name == "phase3":
        return dataclasses.replace(
            build_study("custom", profile=profile, datasets=datasets_ or DATASETS,
                        models=models, seeds=tuple(range(50)), space="default"), name="phase3")
    return build_study(name, profile=profile, datasets=datasets_, models=models)


def _inversion_flops(config: InversionConfig, generator_flops: float) -> float:
    """FLOPs of inverting one target: the pool once, then restarts x steps forward and
    backward passes through G (backward ~ 2 forward)."""
    return generator_flops * (config.pool_size / 1000 + 3 * config.restarts * config.steps)


def _unplannable(dataset: str, model: str) -> str | None:
    """Why ``model`` cannot train on ``dataset`` (it needs what the data set lacks, or its
    architecture rejects the shape; the engine's checks), or None."""
    spec = datasets.get(dataset)
    try:
        models.check_needs(model, spec.offers, dataset)
    except ValueError as err:
        return str(err).split("; ")[0]
    _, structure = bound.setup(model, spec.image_shape)
    return bound.unsupported(structure)


def plan_study(study: Study, *, gpu: bound.Peak, precision: str,
               throughput: Throughput | None,
               notes: list[str] | None = None) -> list[Line]:
    """One :class:`Line` per (data set, model) of ``study`` that can be planned; the others
    (a model that cannot train on the data set, a model without a bound count at its shape)
    are left out with a one-line reason appended to ``notes``."""
    profile = study.config
    notes = [] if notes is None else notes
    peak_precision = {"float32": "fp32", "tf32": "tf32"}[precision]
    groups = make_tasks(study.runs, profile.execution.max_group)
    keys = dict.fromkeys((g.dataset, g.runs[0].model) for g in groups)
    for dataset, model in list(keys):
        why = _unplannable(dataset, model)
        if why is not None:
            notes.append(f"{model} on {dataset} left out: {why}")
            del keys[(dataset, model)]
    shapes = {d: tuple(datasets.get(d).image_shape) for d, _ in keys}
    # the counts known without compiling (the shipped table, this machine's cache)
    counts = {k: c for k, c in bound.known_counts().items() if isinstance(c, bound.Count)}
    images = bound.image_counts_for(
        ["inception", *sorted({f"generator@{bound.shape_name(s)}" for s in shapes.values()})])
    lines = []
    for dataset, model in keys:
        spec = datasets.get(dataset)
        shape = bound.shape_name(shapes[dataset])
        mine = [g for g in groups if g.dataset == dataset and g.runs[0].model == model]
        runs = sum(len(g.runs) for g in mine)
        largest = max(len(g.runs) for g in mine)
        total, evals = configs.schedule(profile, spec.train_steps, spec.eval_every)
        fid_images = prf_targets = 0
        prf_settings = PrecisionRecallSettings(
            **configs.metric_settings(profile, "precision_recall"))
        for e in evals:
            due = {m.name: m.configure(configs.metric_settings(profile, m.name))
                   for m in due_metrics(spec, profile, last=e == total)}
            if "fid" in due and spec.fid_reference_split is not None:
                fid_images += runs * due["fid"].samples
            if "precision_recall" in due:
                prf_targets += runs * due["precision_recall"].samples
        c = counts.get(f"{model}@{shape}")
        if c is None:
            notes.append(f"{model} on {dataset} left out: no bound count for "
                         f"{model} at {shape} (python -m benchmark bound --models {model} "
                         f"--shapes {shape})")
            continue
        data_bytes = c.num_train * float(math.prod(shapes[dataset]))
        group_bytes = c.group_bytes(largest) - data_bytes + spec.device_bytes()
        rate, source = None, "bound"
        if throughput is not None:
            rate = throughput.rate(model, shape, precision, largest)
            source = "measured"
            if rate is None:
                ns = throughput.rate("ns_gan", shape, precision, largest)
                ns_count = counts.get(f"ns_gan@{shape}")
                if ns is not None and ns_count is not None:
                    rate, source = ns * ns_count.flops / c.flops, "scaled"
        if rate is None:
            rate, source = c.bound(gpu, peak_precision)[0], "bound"
        g_flops = images[f"generator@{shape}"].flops
        inception = images["inception"].flops
        config = THOROUGH_INVERSION if prf_settings.thorough else InversionConfig()
        fid_rate = (throughput.fid_images_per_s.get(precision) if throughput else None)
        peak = getattr(gpu, peak_precision)
        fid_seconds = fid_images * (1 / fid_rate if fid_rate else inception / peak) \
            + fid_images * g_flops / peak
        prf_seconds = prf_targets * _inversion_flops(config, g_flops) / peak
        run_steps = runs * total
        lines.append(Line(study.name, dataset, model, runs, len(mine), largest, run_steps,
                          runs * len(evals), fid_images, prf_targets,
                          c.state_bytes * largest, group_bytes, run_steps / rate / 3600,
                          (fid_seconds + prf_seconds) / 3600, source,
                          run_steps * c.flops / peak / 3600))
    return lines


def _table(lines: Sequence[Line]) -> str:
    head = ["study", "data set", "model", "runs", "groups (largest)", "run-steps",
            "evaluations", "FID images", "P/R/F1 targets", "checkpoint GB", "group GB",
            "train h", "eval h", "from"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for x in lines:
        out.append("| " + " | ".join([
            x.study, x.dataset, x.model, f"{x.runs:,}", f"{x.groups} ({x.largest_group})",
            f"{x.run_steps:,}", f"{x.evaluations:,}", f"{x.fid_images:,}",
            f"{x.prf_targets:,}", f"{x.checkpoint_bytes / 1e9:.1f}",
            f"{x.group_bytes / 1e9:.1f}", f"{x.train_hours:.2f}", f"{x.eval_hours:.2f}",
            x.source]) + " |")
    return "\n".join(out)


def summary(lines: Sequence[Line], gpu: bound.Peak, precision: str,
            throughput: Throughput | None) -> list[str]:
    """The totals per study and overall, where the figures come from, and the goal."""
    out = []
    for name in dict.fromkeys(x.study for x in lines):
        mine = [x for x in lines if x.study == name]
        out.append(f"{name}: {sum(x.runs for x in mine):,} runs in "
                   f"{sum(x.groups for x in mine)} groups, "
                   f"{sum(x.run_steps for x in mine):,} run-steps, "
                   f"{sum(x.evaluations for x in mine):,} evaluations: "
                   f"{sum(x.train_hours for x in mine):.1f} h training + "
                   f"{sum(x.eval_hours for x in mine):.1f} h evaluation")
    for dataset in dict.fromkeys(x.dataset for x in lines):
        mine = [x for x in lines if x.dataset == dataset]
        out.append(f"  {dataset}: {sum(x.run_steps for x in mine):,} run-steps, "
                   f"{sum(x.hours for x in mine):.1f} h")
    hours = sum(x.hours for x in lines)
    sources = sorted({x.source for x in lines})
    out.append(f"total: {hours:.1f} h on one {gpu.name} at {precision}")
    out.append(f"floor: training at the peak FLOP/s alone (no memory traffic, every unit busy) "
               f"takes {sum(x.flops_hours for x in lines):.1f} h; nothing trains faster")
    if "bound" in sources:
        out.append("NOTE: rows marked 'bound' are the bound counted by XLA (python -m "
                   "benchmark bound) at the data sheet's peak, not a measurement: the real "
                   "time is longer. Run gpu-check on the GPU and pass its throughput.json.")
    if throughput is not None:
        out.append(f"measured: {throughput.source} ({throughput.device}); 'scaled' rows: "
                   "NS GAN's measured rate at that shape times its counted FLOPs over the "
                   "model's")
    peak = max(x.group_bytes for x in lines)
    if peak > gpu.memory:
        out.append(f"WARNING: the largest group needs {peak / 1e9:.0f} GB, more than the "
                   f"{gpu.memory / 1e9:.0f} GB of a {gpu.name}: lower the config's "
                   "execution.max_group")
    whole = {x.study for x in lines} >= set(PHASES) and {x.dataset for x in lines} >= \
        set(DATASETS) and {x.model for x in lines} >= set(models.PAPER_MODELS)
    scope = "" if whole else " (this selection, not the whole study: use --study all)"
    if gpu.name != bound.PEAKS["h100"].name:
        scope += f" (planned for a {gpu.name}, not an H100: use --gpu h100)"
    verdict = "met" if hours <= GOAL_HOURS else "NOT met"
    kind = "bound" if sources == ["bound"] else "projection"
    out.append(f"goal: the whole study (phases 1-3, five data sets, FID at every evaluation) "
               f"within {GOAL_HOURS:.0f} h of one H100: {verdict} by this {kind}: "
               f"{hours:.1f} h{scope}")
    return out


def same_gpu(gpu: bound.Peak, device: str) -> bool:
    """Whether a device name (jax's ``device_kind``, e.g. "NVIDIA H100 80GB HBM3") is ``gpu``."""
    return gpu.name.split()[0].lower() in device.lower()


def main(argv: list[str] | None = None) -> None:
    parser = OneLineParser(prog="python -m benchmark plan",
                           description="Runs, groups, run-steps, evaluations, memory and "
                           "projected hours of a study on one GPU (see docs/speed.md).")
    parser.add_argument("--study", default="all",
                        help="phase1, phase2, phase3, all (phases 1-3, default) or default")
    parser.add_argument("--datasets", default=None, help="comma-separated (default: the "
                        "study's)")
    parser.add_argument("--models", default=None,
                        help="comma-separated registered models, or all (default: the "
                        "paper's eight)")
    parser.add_argument("--profile", default="paper", help="the profile (default: paper)")
    parser.add_argument("--gpu", default="h100", choices=sorted(bound.PEAKS),
                        help="whose peaks the bound uses (default: h100)")
    parser.add_argument("--precision", default="float32", choices=("float32", "tf32"),
                        help="matrix products and convolutions (default: float32)")
    parser.add_argument("--throughput", type=Path, default=None,
                        help=f"gpu-check's throughput.json (default: {DEFAULT_THROUGHPUT} "
                        "when it exists; else the bound)")
    parser.add_argument("--json", type=Path, default=None, help="also write the lines here")
    args = parser.parse_args(argv)
    names = list(PHASES) if args.study == "all" else [args.study]
    split = (lambda t: [v.strip() for v in t.split(",") if v.strip()] if t else None)
    with user_input():
        profile = resolve(args.profile)
        for d in split(args.datasets) or []:
            datasets.get(d)
        chosen = split(args.models)
        if chosen == ["all"]:  # every image model (SeqGAN's sequence models are not counted)
            chosen = [n for n in models.names() if "images" in models.get(n).needs]
        studies = [study_of(n, profile, split(args.datasets), chosen) for n in names]
        for study in studies:
            if sequences.is_sequence(study.runs):
                raise UserError(f"plan counts the image step; study {study.name!r} trains "
                                "SeqGAN's sequence models: project their cost with `python -m "
                                "benchmark seqgan-preview --project-paper`")
    gpu = bound.PEAKS[args.gpu]
    throughput = Throughput.read(args.throughput) if args.throughput is not None else None
    if throughput is None and DEFAULT_THROUGHPUT.is_file():
        throughput = Throughput.read(DEFAULT_THROUGHPUT)
        if not same_gpu(gpu, throughput.device):
            print(f"note: {DEFAULT_THROUGHPUT} was measured on {throughput.device}, not a "
                  f"{gpu.name}; planning on the bound")
            throughput = None
    elif throughput is not None and not same_gpu(gpu, throughput.device):
        print(f"note: {args.throughput} was measured on {throughput.device}; its figures are "
              f"used for the {gpu.name} as they are")
    notes: dict[str, list[str]] = {}  # each note once, with the studies it holds for
    lines = []
    for s in studies:
        mine: list[str] = []
        lines += plan_study(s, gpu=gpu, precision=args.precision, throughput=throughput,
                            notes=mine)
        for note in mine:
            notes.setdefault(note, []).append(s.name)
    for note, where in notes.items():
        print(f"note ({', '.join(where)}): {note}")
    if not lines:
        raise UserError("nothing to plan: every model of the selection was left out (see "
                        "the notes above)")
    print(_table(lines))
    print()
    for line in summary(lines, gpu, args.precision, throughput):
        print(line)
    if args.json is not None:
        atomic_write(args.json, json.dumps([dataclasses.asdict(x) for x in lines], indent=1))
        print(f"wrote {args.json}")
