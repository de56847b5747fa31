"""The command line: ``python -m benchmark {train,sweep,compare,report,status} ...`` and the
tools' verbs (``bench``, ``bench-peer``, ``chaos``, ... of :data:`PASSTHROUGH`).

Every user mistake (unknown names, out-of-range values, a results directory holding another
study, a corrupted cache) is a :class:`~benchmark.errors.UserError`: one line on stderr
naming the problem and the fix, exit status 2, nothing written.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import jax
import pandas as pd

import models as model_registry
from benchmark import data
from benchmark.cli import compare, hparam_flags
from benchmark.cli.report_files import MONTAGE, write_report
from benchmark.errors import OneLineParser, UserError, user_input
from benchmark.evaluation import fid_features
from benchmark.io import cache_dir
from benchmark.runner import sequences, step_budget
from benchmark.runner.compile_cache import enable_compilation_cache
from benchmark.runner.engine import check_results_dir, check_study, run_study
from benchmark.runner.executors import EXECUTORS, MissingExtra, make_executor
from benchmark.runner.results import MANIFEST, load_rows
from benchmark.runner.task_files import failure_message, task_states
from benchmark.tools import (
    bench,
    bench_fid,
    bench_peer,
    bench_prf,
    bound,
    chaos,
    gpu_check,
    planning,
    seqgan_preview,
)
from reports.tables import SCORES, format_summary, metric_names, score_description, summary
from sweeps import config as configs
from sweeps.runs import G_SCHEDULES, Study, make_run, spectral_norm_arch
from sweeps.studies import build_study, profile_hparams

EPILOG = """Examples:
  python -m benchmark sweep                          # the default study (CPU: preview profile)
  python -m benchmark train --model wgan_gp --seeds 0,1 --lr 2e-4
  python -m benchmark train --model ns_gan --dataset mnist --data-dir ../shared/data
  python -m benchmark sweep --study phase1 --datasets mnist --configs 20
  python -m benchmark sweep --study seqgan --profile smoke --seeds 0-1   # SeqGAN, MLE on the oracle
  python -m benchmark compare --model hinge --baselines results/default_preview
  python -m benchmark report results/default_preview
  python -m benchmark bench --runs 1,4,16
  python -m benchmark bound --models ns_gan --shapes 28x28x1   # counted, not measured
  python -m benchmark plan --study all --gpu h100
  python -m benchmark gpu-check --budget 480
  python -m benchmark bench-peer --steps 40          # our step against the PyTorch peer's
  python -m benchmark chaos --kills 10               # kill and resume a smoke study
  python -m benchmark COMMAND --help                 # each command explains itself
"""


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of integers "
                                         "(e.g. 0,1,2) or a range (e.g. 0-2)") from None
    if not values:
        raise argparse.ArgumentTypeError("give at least one value, e.g. 0,1,2 or 0-2")
    return _once(values, text)


def _seeds(text: str) -> list[int]:
    """``0,1,2`` or a range ``0-49`` (both ends included)."""
    lo, sep, hi = text.strip().partition("-")
    if sep and "," not in text and lo.strip().isdigit() and hi.strip().isdigit():
        if int(lo) > int(hi):
            raise argparse.ArgumentTypeError(f"{text!r} counts down; write the range from low "
                                             f"to high, e.g. {int(hi)}-{int(lo)}")
        return list(range(int(lo), int(hi) + 1))
    return _int_list(text)


def _str_list(text: str) -> list[str]:
    """A comma-separated list of names: at least one, each named once."""
    values = [v.strip() for v in text.split(",") if v.strip()]
    if not values:
        raise argparse.ArgumentTypeError(f"{text!r} names nothing; give at least one name; "
                                         "separate names with commas")
    return _once(values, text)


def _once(values: list, text: str) -> list:
    """``values`` if none repeats; a repeated one is a mistake to name, not to drop quietly."""
    twice = [v for i, v in enumerate(values) if v in values[:i]]
    if twice:
        raise argparse.ArgumentTypeError(f"{twice[0]} is named twice in {text!r}; name each "
                                         "once")
    return values


def _path(text: str) -> Path:
    """A path that names something: an empty value would silently mean the current folder."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path; name a folder (e.g. "
                                         "results/default_preview)")
    return Path(text)


def _yes_no(text: str) -> bool:
    if text.lower() in ("yes", "true", "1", "on"):
        return True
    if text.lower() in ("no", "false", "0", "off"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r}: expected yes or no")


def _option(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected KEY=VALUE, e.g. perturbation=gaussian")
    return key.strip(), value.strip()


def _add_common(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "configuration (sweeps/config.py: a profile, then these changes of its keys)")
    g.add_argument("--profile", default="auto",
                   help="auto (paper on GPU/TPU, preview otherwise), paper, preview, cpu or "
                   "smoke: sweeps/configs/<name>.py (default: auto)")
    g.add_argument("--config", type=_option, action="append", default=[], metavar="KEY=VALUE",
                   help="set any key of the configuration, e.g. schedule.steps=300 or "
                   "evaluation.metrics.fid.samples=500 (repeatable; typed from the key's "
                   "default; the short flags below are the same keys). The keys, with the "
                   "preview profile's values: "
                   + ", ".join(configs.keys(configs.resolve("preview"))))
    g.add_argument("--steps", type=int, default=None,
                   help="schedule.steps: training steps (D updates) in place of the profile's")
    g.add_argument("--eval-every", type=int, default=None,
                   help="schedule.eval_every: the evaluation interval in steps")
    g.add_argument("--results-dir", type=_path, default=None,
                   help="where rows, sample grids and checkpoints go (default: "
                   "results/<study>_<profile>); rerunning the same command resumes")
    g.add_argument("--data-dir", type=_path, default=None,
                   help="execution.data_dir: folder with the original data files (e.g. MNIST "
                   "IDX files); else tensorflow-datasets is used for the real data sets")
    g.add_argument("--fid-feature", default=None, choices=configs.FID_FEATURES,
                   help="evaluation.fid_feature: inception (docs/protocol.md §7.1), lenet "
                   "(FID-LeNet, MNIST and Fashion-MNIST), none, or auto = inception, else "
                   "lenet when the Inception weights cannot be obtained (default: auto)")
    g.add_argument("--keep-checkpoints", action="store_const", const=True, default=None,
                   help="execution.keep_checkpoints: keep each task's final orbax checkpoint "
                   "(about 160 MB per 28x28 run) instead of deleting it once the task is done")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    x = p.add_argument_group(
        "where it runs (a task: the runs trained together; any number of processes, Ray workers "
        "or SLURM array tasks can share one results directory)")
    x.add_argument("--executor", choices=tuple(EXECUTORS), default="local",
                   help="local: this process (default); ray: one Ray task per study task "
                   "(pip install 'gan-benchmark[ray]'); slurm: one SLURM job array through "
                   "submitit (pip install 'gan-benchmark[slurm]')")
    x.add_argument("--workers", type=int, default=None,
                   help="execution.workers: processes training tasks at once on this machine, "
                   "each on its share of the CPU cores; 0 = one per core on the CPU (the "
                   "preview's default; 1 elsewhere); 1 = this process alone")
    x.add_argument("--ray-address", default=None,
                   help="Ray cluster to join (default: start a local one)")
    x.add_argument("--gpus-per-task", type=float, default=0.0,
                   help="GPUs per Ray task; fractions share a GPU (default: 0)")
    x.add_argument("--ray-max-retries", type=int, default=3,
                   help="times Ray reruns a task whose worker died (killed, out of memory, "
                   "node lost); the rerun resumes from the task's checkpoint (default: 3)")
    x.add_argument("--slurm-partition", default=None, help="SLURM partition")
    x.add_argument("--slurm-gpus-per-task", type=int, default=1,
                   help="GPUs per SLURM array task (default: 1)")
    x.add_argument("--slurm-time", default="24:00:00",
                   help="time limit per array task, SLURM format (default: 24:00:00)")
    x.add_argument("--slurm-array-parallelism", type=int, default=64,
                   help="array tasks running at once (default: 64)")
    f = p.add_argument_group("fidelity to compare_gan v1 (docs/protocol.md §9; default: v1)")
    f.add_argument("--g-schedule", default=None, choices=G_SCHEDULES,
                   help="fidelity.g_schedule: steps with a G update when n_disc > 1: v1 = t "
                   "0, 1, 1+n_disc, 1+2n_disc, ... (compare_gan v1); modulo = t 0, n_disc, "
                   "2n_disc, ... (recorded as the g_schedule column; default: v1)")
    f.add_argument("--fid-reference", default=None, choices=configs.FID_REFERENCES,
                   help="fidelity.fid_reference: FID's real images: default = each data set's "
                   "reference split (the test split; CelebA: the validation partition, as v1), "
                   "or the first images of the test or validation split (recorded as the "
                   "fid_reference column)")
    f.add_argument("--precision", default=None, choices=configs.MATMUL_PRECISIONS,
                   help="fidelity.matmul_precision: matrix products and convolutions in "
                   "training and evaluation: float32 (full float32, as the paper) or tf32 "
                   "(TensorFloat-32 on GPUs that have it, faster); the same on CPU (recorded "
                   "as the matmul_precision column; default: float32)")


def _config(args):
    """The study's configuration: the named profile, its study section set to the named study's
    (``--study``; ``train``: custom), then the short flags' keys (``sweeps.config.FLAGS``), then
    each ``--config KEY=VALUE``, parsed and type-checked by ml_collections
    (``sweeps.config.override``)."""
    with user_input():
        config = configs.for_study(configs.resolve(args.profile, jax.default_backend()),
                                   getattr(args, "study", "custom"))
        changes = {key: str(getattr(args, flag)) for flag, key in configs.FLAGS.items()
                   if getattr(args, flag, None) is not None}
        for key, value in args.config:
            if key in changes:
                raise ValueError(f"{key} is set twice (by --config, or by --config and its "
                                 "short flag); set it once")
            changes[key] = value
        return configs.override(config, changes, parse=True)


def _results_dir(args, study) -> Path:
    if args.results_dir is not None:
        return args.results_dir
    safe = study.config.name.replace("[", "_").replace("]", "").replace(",", "_")
    return Path("results") / f"{study.name}_{safe}"


def _executor(args, out: Path):
    """The executor the flags name (None: this process)."""
    if args.executor == "local":
        return None
    if args.gpus_per_task < 0 or args.slurm_gpus_per_task < 0:
        raise UserError("--gpus-per-task and --slurm-gpus-per-task must be >= 0")
    if args.ray_max_retries < 0:
        raise UserError(f"--ray-max-retries {args.ray_max_retries} must be >= 0")
    if args.slurm_array_parallelism < 1:
        raise UserError(f"--slurm-array-parallelism {args.slurm_array_parallelism} must be "
                        ">= 1")
    try:
        if args.executor == "ray":
            return make_executor("ray", address=args.ray_address,
                                 gpus_per_task=args.gpus_per_task,
                                 max_retries=args.ray_max_retries)
        return make_executor("slurm", folder=out / "slurm", partition=args.slurm_partition,
                             gpus_per_task=args.slurm_gpus_per_task, time=args.slurm_time,
                             array_parallelism=args.slurm_array_parallelism)
    except (MissingExtra, ValueError) as err:
        raise UserError(str(err)) from None


def _run(args, study) -> None:
    for dataset in dict.fromkeys(r.dataset for r in study.runs):
        data.get(dataset)  # unknown names fail before anything is written
    check_study(study)  # a model's needs and architecture against each data set
    out = _results_dir(args, study)
    check_results_dir(out)
    executor = _executor(args, out)
    enable_compilation_cache(cache_dir() / "jax")
    if args.command in ("train", "sweep") and args.steps is None and executor is None:
        # the preview sizes its steps to this machine (benchmark.runner.step_budget); compare trains
        # under its baselines' profile
        study = step_budget.fit(study, out)
    what = (sequences.describe(study.config) if sequences.is_sequence(study.runs)
            else study.config.description or "custom")
    print(f"study {study.name!r}: {len(study.runs)} runs, profile {study.config.name} "
          f"({what}) -> {out}", flush=True)
    final = run_study(study, out, progress=not args.no_progress, executor=executor)
    with pd.option_context("display.width", 200):
        print(format_summary(summary(final, titles=data.titles()), data.titles()))
    _print_report(out)


def _print_report(out: Path) -> None:
    """Every study ends with its report; the last lines name it and the samples' montage."""
    print(f"results: {out}/groups/*/rows.jsonl; sample grids: {out}/samples/", flush=True)
    written = write_report(out)
    montage = [p for p in written if p.name == MONTAGE]
    print(f"report: {written[0]} ({len(written) - 1} more files in {written[0].parent})")
    if montage:
        print(f"samples of every model: {montage[0]}")


def cmd_train(args) -> None:
    with user_input():
        study = _train_study(args)
    _run(args, study)


def _train_study(args) -> Study:
    profile = _config(args)
    overrides = hparam_flags.overrides(args, args.model)
    runs = []
    for model in args.model:  # the profile's values (preview) replace the author defaults
        own = {**profile_hparams(profile, model), **overrides[model]}
        for seed in args.seeds:
            arch = spectral_norm_arch(model, args.arch) if args.spectral_norm else args.arch
            runs.append(make_run(model, args.dataset, seed, own, options=dict(args.option),
                                 g_schedule=profile.fidelity.g_schedule, arch=arch))
    keys = [key for key, _ in args.option]
    for key in dict.fromkeys(k for i, k in enumerate(keys) if k in keys[:i]):
        raise UserError(f"--option {key} is given twice; give each option once")
    name = f"train_{'+'.join(args.model)}_{args.dataset}"
    with user_input():  # the study section says what is trained
        profile = configs.override(profile, {
            "study.models": tuple(args.model), "study.datasets": (args.dataset,),
            "study.seeds": tuple(args.seeds)}, name=profile.name)
    return Study(name, tuple(runs), profile)


def cmd_sweep(args) -> None:
    phase1_rows = None
    if args.phase1_dir is not None:
        if not args.phase1_dir.is_dir():
            raise UserError(f"phase-1 results directory {args.phase1_dir} does not exist; "
                            "pass the --results-dir of a finished phase1 sweep")
        phase1_rows = load_rows(args.phase1_dir)
    with user_input():
        study = build_study(
            args.study, profile=_config(args), datasets=args.datasets, models=args.models,
            seeds=args.seeds, num_configs=args.configs, space=args.space,
            phase1_rows=phase1_rows, phase1_source=str(args.phase1_dir),
            arch=_archs(args),
            spectral_norm=args.spectral_norm,
        )
    _run(args, study)


def check_metrics(metrics: list[str] | None) -> None:
    """Every name in ``metrics`` is a metric column (else the comparison would drop it
    quietly, after training)."""
    known = metric_names()
    for metric in metrics or ():
        if metric not in known:
            raise UserError(f"unknown metric {metric!r}; choose among: {', '.join(known)}")


def _archs(args):
    """``--arch NAME`` or ``--archs A,B`` (architecture as a study axis), not both."""
    if args.arch is not None and args.archs is not None:
        raise UserError("give --arch or --archs, not both (--archs infogan,dcgan trains "
                        "every model with each)")
    return args.archs if args.archs is not None else args.arch


def cmd_compare(args) -> None:
    check_metrics(args.metrics)
    with user_input():
        fixed = hparam_flags.overrides(args, [args.model])[args.model]
        plan = compare.plan_comparison(
            args.model, args.baselines or [], profile=_config(args), study=args.study,
            datasets=args.datasets, models=args.models, seeds=args.seeds,
            num_configs=args.configs, space=args.space, overrides=fixed,
        )
    for note in plan.notes:
        print(f"note: {note}")
    print(plan.describe(), flush=True)
    _run(args, plan.study)
    with user_input():
        comparison, written = compare.write_comparison(
            plan, _results_dir(args, plan.study), args.out, score=args.score,
            metrics=args.metrics)
    print("\nsummary:")
    for line in comparison.sentences or ["(no metric was measured on both sides)"]:
        print(f"- {line}")
    for path in written:
        print(f"wrote {path}")


def cmd_report(args) -> None:
    if not args.results_dir.is_dir():
        raise UserError(f"no results under {args.results_dir} (no such directory); pass the "
                        "--results-dir of a study")
    if args.out is not None:
        check_results_dir(args.out)
    df = load_rows(args.results_dir)
    with pd.option_context("display.width", 200):
        print(format_summary(summary(df, titles=data.titles(), score=args.score),
                             data.titles()))
    print(f"per run: {score_description(args.score)}")
    out = args.out or args.results_dir / "report"
    for path in write_report(args.results_dir, out, score=args.score):
        print(f"wrote {path}")


def cmd_status(args) -> None:
    """Done, running, pending and failed tasks of a study directory, or of each study under a
    folder of studies (as ``report``, ``compare`` and the notebooks accept one)."""
    if (args.results_dir / MANIFEST).is_file():
        studies = [args.results_dir]
    else:
        studies = sorted(m.parent for m in args.results_dir.rglob(MANIFEST)
                         ) if args.results_dir.is_dir() else []
    if not studies:
        raise UserError(f"{args.results_dir} holds no study ({MANIFEST} is missing, here and "
                        "in every folder under it); pass the --results-dir of a sweep or train "
                        "command")
    for study in studies:
        _status(study, args.all)


def _status(results_dir: Path, show_all: bool) -> None:
    manifest = results_dir / MANIFEST
    try:
        tasks = json.loads(manifest.read_text())["tasks"]
    except (ValueError, KeyError):
        raise UserError(f"{manifest} lists no tasks (written by an older version); rerun the "
                        "study's command to continue it") from None
    states = task_states(results_dir, list(tasks))
    counts = {s: sum(1 for v in states.values() if v == s)
              for s in ("done", "running", "pending", "failed")}
    runs = sum(len(r) for r in tasks.values())
    print(f"{results_dir}: {len(tasks)} tasks ({runs} runs): "
          + ", ".join(f"{n} {s}" for s, n in counts.items()))
    for task, state in states.items():
        if state != "done" or show_all:
            line = f"  {state:<8} {task} ({len(tasks[task])} runs)"
            if state == "failed":
                line += f": {(failure_message(results_dir, task) or '').splitlines()[-1:]}"
            print(line)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="python -m benchmark",
        description="A JAX reproduction of 'Are GANs Created Equal?' (Lucic et al., 2018): "
        "train the study's eight models, many runs at once, and score them with FID and, on "
        "the triangles, precision/recall/F1.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = sub.add_parser("train", help="train one or more models at given hyperparameters",
                       description="Train models on one data set with several seeds, at the "
                       "author defaults (docs/protocol.md §2.8) unless overridden.")
    t.add_argument("--model", type=_str_list, required=True,
                   help=f"model(s), comma-separated: {', '.join(model_registry.names())}")
    t.add_argument("--dataset", default="triangles",
                   help="triangles (default, generated locally), mnist, fashion_mnist, "
                   "cifar10, celeba")
    t.add_argument("--seeds", type=_seeds, default=[0], help="e.g. 0,1,2 or 0-49 (default: 0)")
    h = t.add_argument_group("hyperparameters (default: the author defaults of the model)")
    h.add_argument("--lr", type=float, help="Adam learning rate, > 0")
    h.add_argument("--beta1", type=float, help="Adam beta1, in [0, 1]")
    h.add_argument("--n-disc", dest="n_disc", type=int, help="D updates per G update, >= 1")
    h.add_argument("--disc-bn", dest="disc_bn", type=_yes_no, help="batch norm in D: yes/no")
    h.add_argument("--option", type=_option, action="append", default=[],
                   help="static variant, e.g. perturbation=gaussian (DRAGAN), clip_k=yes "
                   "(BEGAN), encoder=stochastic or d_pass=joint (BiGAN)")
    h.add_argument("--arch", default=None,
                   help="architecture of G and D (default: the model's own): "
                   f"{', '.join(model_registry.registered_architectures())}")
    h.add_argument("--spectral-norm", dest="spectral_norm", action="store_true",
                   help="spectral normalisation on every layer of D (architecture NAME+sn)")
    _add_common(t)
    hparam_flags.add_flags(h)  # --clip, --lambda, ... from every registered loss, and --hp
    t.set_defaults(func=cmd_train)

    s = sub.add_parser("sweep", help="run a named study (default: 8 models x 3 seeds on "
                       "triangles)", description="Run a study: default, phase1 (wide, 100 "
                       "configs), phase2 (narrow, 50), phase3 (best phase-1 config x 50 "
                       "seeds), seqgan (SeqGAN and its MLE baseline on SeqGAN's oracle, "
                       "docs/protocol.md §11) or custom. Rerunning the same command resumes "
                       "it.")
    s.add_argument("--study", default="default",
                   help="default, phase1, phase2, phase3, seqgan (SeqGAN and MLE on its "
                   "oracle) or custom (default: default)")
    s.add_argument("--models", type=_str_list, default=None, help="restrict to these models")
    s.add_argument("--datasets", type=_str_list, default=None, help="restrict to these sets")
    s.add_argument("--seeds", type=_seeds, default=None, help="override the study's seeds")
    s.add_argument("--configs", type=int, default=None,
                   help="number of hyperparameter configurations (config 0 = author default)")
    s.add_argument("--space", default=None, help="default, wide or narrow (custom studies)")
    s.add_argument("--phase1-dir", type=_path, default=None,
                   help="phase-1 results directory (phase3 picks each model's best config)")
    s.add_argument("--arch", default=None,
                   help="every model's architecture of G and D (default: each model's own): "
                   f"{', '.join(model_registry.registered_architectures())}")
    s.add_argument("--archs", type=_str_list, default=None, metavar="A,B",
                   help="train every model with each of these architectures (a study axis; "
                   "the tables group by model and architecture)")
    s.add_argument("--spectral-norm", dest="spectral_norm", action="store_true",
                   help="spectral normalisation on every layer of D (architecture NAME+sn)")
    _add_common(s)
    s.set_defaults(func=cmd_sweep)

    c = sub.add_parser(
        "compare", help="a new loss against baseline results, under the same protocol",
        description="Train --model under exactly the protocol of the baselines (profile, "
        "configurations by index, seeds, data sets, evaluation latents), reuse the baseline "
        "runs of --baselines (checked: a mismatch is an error naming what differs), and write "
        "the comparison report (summary sentences, a table per data set and metric, method "
        "notes, protocol, PNGs) into RESULTS_DIR/comparison/. Rerunning resumes.")
    c.add_argument("--model", required=True,
                   help=f"the new model: one of {', '.join(model_registry.names())}")
    c.add_argument("--baselines", type=_str_list, default=None, metavar="DIR[,DIR...]",
                   help="results directories of the baselines (of train or sweep, e.g. "
                   "results/default_preview); every model they hold is a baseline")
    c.add_argument("--models", type=_str_list, default=None,
                   help="only these baselines; those no --baselines directory holds are "
                   "trained into the comparison's results directory")
    c.add_argument("--study", default="default",
                   help="the protocol: default, phase1, phase2 or custom (default: default)")
    c.add_argument("--datasets", type=_str_list, default=None, help="override the study's")
    c.add_argument("--seeds", type=_seeds, default=None, help="override the study's seeds")
    c.add_argument("--configs", type=int, default=None,
                   help="configurations 0..K-1 per model (config 0 = author default)")
    c.add_argument("--space", default=None, help="default, wide or narrow (custom studies)")
    c.add_argument("--score", choices=("last", "best"), default="last",
                   help="each run's last evaluation (default) or its best checkpoint")
    c.add_argument("--metrics", type=_str_list, default=None,
                   help="compare these metrics only (default: every measured one)")
    c.add_argument("--out", type=_path, default=None,
                   help="where the report goes (default: RESULTS_DIR/comparison)")
    hc = c.add_argument_group("hyperparameters of the new model (fixed in every "
                              "configuration; default: the study's)")
    _add_common(c)
    hparam_flags.add_flags(hc)
    c.set_defaults(func=cmd_compare)

    r = sub.add_parser("report", help="tables and plots of a results directory",
                       description="Print mean ± std per model and write summary.md and plots.")
    r.add_argument("results_dir", type=_path, help="a study's results directory")
    r.add_argument("--out", type=_path, default=None,
                   help="where to write the report (default: RESULTS_DIR/report)")
    r.add_argument("--score", default="last", choices=SCORES,
                   help="each run's value in the tables: last = its last evaluation, best = "
                   "its best evaluation per metric (lowest FID, highest F1, ...); failed runs "
                   "are counted, not averaged, either way (default: last)")
    r.set_defaults(func=cmd_report)

    st = sub.add_parser("status", help="done, running, pending and failed tasks of a study",
                        description="Count a study directory's tasks by state, or each study's "
                        "under a folder of studies (from its files: any machine that sees the "
                        "directory can ask). Rerunning the study's "
                        "command (or the SLURM submission) trains only the unfinished ones.")
    st.add_argument("results_dir", type=_path,
                    help="a study's results directory, or a folder of them (each is listed)")
    st.add_argument("--all", action="store_true", help="list done tasks too")
    st.set_defaults(func=cmd_status)

    for verb, (_, text) in PASSTHROUGH.items():  # each parses its own arguments and --help
        sub.add_parser(verb, help=text, add_help=False)
    return parser


# Verbs whose module parses its own arguments: verb -> (its main, help line).
PASSTHROUGH = {
    "bench": (bench.main, "training throughput (run-steps/s) with 1..64 runs"),
    "bound": (bound.main, "FLOPs, bytes and memory per run-step as XLA counts them, "
              "against GPU peaks (counted, not measured)"),
    "plan": (planning.main, "runs, run-steps, evaluations, memory and projected hours "
             "of a study on a named GPU"),
    "gpu-check": (gpu_check.main, "the prepared GPU check: throughput, memory, peer, "
                  "FID speed within a time budget"),
    "bench-peer": (bench_peer.main, "our NS GAN step against the PyTorch peer's, one run "
                   "each, alternated (run-steps/s)"),
    "bench-fid": (bench_fid.main, "Inception feature speed: ours (JAX) against pytorch-fid "
                  "(images/s)"),
    "bench-prf": (bench_prf.main, "time precision/recall/F1 of one generator on the "
                  "triangles for several sample counts"),
    "chaos": (chaos.main, "kill a smoke study's process (or Ray worker) in random phases, "
              "resume it, and check every task ran once with the rows unchanged"),
    "seqgan-preview": (seqgan_preview.main, "SeqGAN on its oracle: a short preview, or the "
                       "paper schedule projected from timed pieces"),
    "fid-lenet": (fid_features.main, "train the FID-LeNet classifier of MNIST or "
                  "Fashion-MNIST once (FID-LeNet without the Inception weights)"),
}


def _passthrough(verb: str, rest: list[str]) -> int:
    return PASSTHROUGH[verb][0](rest) or 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    logging.getLogger("absl").setLevel(logging.WARNING)  # orbax's per-save INFO lines
    parser = build_parser()
    try:
        if argv and argv[0] in PASSTHROUGH:
            return _passthrough(argv[0], argv[1:])
        args = parser.parse_args(argv)
        args.func(args)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to resume from the last evaluation",
              file=sys.stderr)
        return 130
    return 0
