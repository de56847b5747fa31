"""``python -m benchmark compare --model NEW --baselines DIR[,DIR...]``: a new loss against
baseline results, under the same protocol (docs/usage.md, "Comparing a new model ...").

The protocol of a comparison is the named study's (``--study``, ``--datasets``,
``--configs``, ``--space``, ``--seeds``) under one profile (``--profile``, ``--steps``,
``--eval-every``), built by :func:`sweeps.studies.build_study` with the new model among the
models. **Same configurations by index** means: every model is trained at configuration
indices 0..K-1 with the same seeds, where configuration 0 is each model's author default and
configuration i > 0 is the i-th draw of the study's sampler *for that model* (compare_gan
v1's draws for the paper's models in phases 1 and 2, ``sweeps.spaces.sample_configs``
otherwise, the new model included: v1 has no configurations for it). An index names the
same draw and budget, not the same values, across models. The evaluation latents are the
same for every run (``benchmark.evaluation.evaluator.EVAL_SEED``).

Baselines are reused, not retrained, when they were produced under that protocol: the
``study.json`` of a study directory that holds a baseline model must record the same
configuration (name and every key that changes results, ``sweeps.config.fingerprinted``, the
study section aside; in a directory of several studies, those under another profile are
left out, with a note, as long as one matches), and each baseline model must hold, on every
compared data set, a finished run for every (configuration, seed) of the comparison, with
exactly the hyperparameters that the study gives that configuration. Anything else is a
one-line :class:`UserError` naming what differs and the fix. The baselines are the models
found in the baseline directories (or those of ``--models``; a model named there that no
directory holds is trained into the comparison's own results directory, beside the new
model). Runs the baselines hold beyond the comparison (other seeds, configurations or data
sets) are left out, with a note.

:func:`plan_comparison` checks all this and writes nothing; the command line then trains
:attr:`ComparisonPlan.study` like any study (resumable) and :func:`write_comparison` writes the
report of ``reports.compare`` (markdown, CSV, PNGs) through :func:`benchmark.io.atomic_write`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

import models as model_registry
from benchmark import data
from benchmark.errors import UserError
from benchmark.evaluation.evaluator import EVAL_SEED
from benchmark.io import atomic_write
from benchmark.runner.results import MANIFEST, load_rows
from reports.compare import Comparison, compare
from reports.plots import png
from reports.tables import model_title
from sweeps import config as configs
from sweeps.runs import RunSpec, Study, make_run
from sweeps.studies import STUDIES, build_study

REPORT_DIR = "comparison"  # the report's folder inside the comparison's results directory
FIX = "pass the --results-dir of a finished train or sweep (e.g. results/default_preview)"


@dataclasses.dataclass(frozen=True)
class BaselineStudy:
    """One study directory among the baselines: what its ``study.json`` records."""

    root: Path
    name: str
    profile: dict[str, Any]
    runs: dict[str, dict[str, Any]]  # run_id -> the run's columns (RunSpec.columns)


@dataclasses.dataclass(frozen=True)
class ComparisonPlan:
    """What a comparison reuses and what it trains (:func:`plan_comparison`)."""

    new_model: str
    study_name: str  # the named study whose protocol is used
    study: Study  # the runs trained into the comparison's own results directory
    baselines: tuple[str, ...]  # every baseline model compared
    sources: dict[str, tuple[Path, ...]]  # reused baseline model -> its directories
    trained: tuple[str, ...]  # baseline models trained here (absent from the baselines)
    baseline_rows: pd.DataFrame  # every row of the reused runs
    datasets: tuple[str, ...]
    configs: tuple[int, ...]
    seeds: tuple[int, ...]
    overrides: dict[str, Any]  # hyperparameters of the new model fixed from the command line
    notes: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line: the new model, the baselines and where they come from."""
        parts = [f"{m} (reused from {', '.join(map(str, self.sources[m]))})"
                 for m in self.baselines if m in self.sources]
        parts += [f"{m} (trained here)" for m in self.trained]
        return (f"comparing {self.new_model} with {', '.join(parts)} on "
                f"{', '.join(self.datasets)}: configs {_indices(self.configs)}, seeds "
                f"{_indices(self.seeds)}, profile {self.study.config.name}")


def _indices(values: Sequence[int]) -> str:
    values = sorted(values)
    if len(values) > 2 and values == list(range(values[0], values[-1] + 1)):
        return f"{values[0]}-{values[-1]}"
    return ",".join(map(str, values))


def _jsonable(value: Any) -> Any:
    """``value`` as it reads back from a manifest (json.dumps(default=str), json.loads)."""
    return json.loads(json.dumps(value, default=str))


def read_baselines(dirs: Sequence[str | Path]) -> list[BaselineStudy]:
    """Every study directory (one holding a ``study.json``) under each of ``dirs``."""
    found: list[BaselineStudy] = []
    for d in dict.fromkeys(Path(d) for d in dirs):
        if not d.is_dir():
            raise UserError(f"baseline directory {d} does not exist; {FIX}")
        manifests = sorted(d.glob(f"**/{MANIFEST}"))
        if not manifests:
            raise UserError(f"baseline directory {d} holds no results (no {MANIFEST}); {FIX}")
        for path in manifests:
            try:
                manifest = json.loads(path.read_text())
                runs = {r["run_id"]: r for r in manifest["runs"]}
                profile = manifest["config"]
            except (json.JSONDecodeError, KeyError, TypeError) as err:
                raise UserError(f"{path} is not a study manifest ({type(err).__name__}: "
                                f"{err}); {FIX}") from None
            found.append(BaselineStudy(path.parent, str(manifest.get("name")), profile, runs))
    return found


def _profile_mismatch(base: BaselineStudy, profile: dict[str, Any]) -> str | None:
    """Why ``base`` was not trained under the configuration ``profile`` (its keys that change
    results, :func:`sweeps.config.fingerprinted`; one line), or None if it was."""
    theirs = configs.flatten(  # the runs are compared one by one (_check_runs)
        {k: v for k, v in base.profile.items() if k not in (*configs.UNHASHED, "study")})
    if theirs.get("name") != profile["name"]:
        return (f"baseline {base.root} used profile {theirs.get('name')}, this comparison uses "
                f"{profile['name']}; pass {configs.command_line(str(theirs.get('name')))} or "
                "rerun the baselines")
    profile = configs.flatten({k: v for k, v in profile.items() if k != "study"})
    differ = [k for k in sorted(set(theirs) | set(profile)) if theirs.get(k) != profile.get(k)]
    if differ:
        was = ", ".join(f"{k}={theirs.get(k)!r}" for k in differ)
        now = ", ".join(f"{k}={profile.get(k)!r}" for k in differ)
        return (f"baseline {base.root} used profile {profile['name']} with {was}, this "
                f"comparison's {profile['name']} has {now} (the profile changed since); rerun "
                "the baselines")
    return None


def _where(studies: Sequence[BaselineStudy]) -> str:
    return ", ".join(dict.fromkeys(str(s.root) for s in studies))


def _check_runs(model: str, dataset: str, wanted: list[RunSpec],
                holders: list[BaselineStudy], reused: dict[str, BaselineStudy],
                notes: list[str], study_flags: str = "--study default") -> None:
    """Find each of ``wanted`` (one model, one data set) in ``holders`` (the studies holding
    ``model``), first directory first; a missing or different run is a ``UserError``.
    ``study_flags``: the ``sweep`` options of this comparison's study, for the advice."""
    where = _where(holders)
    here = [(s, r) for s in holders for r in s.runs.values()
            if r.get("model") == model and r.get("dataset") == dataset]
    if not here:
        others = sorted({r.get("dataset") for s in holders for r in s.runs.values()
                         if r.get("model") == model})
        raise UserError(f"baseline {where} has {model} on {', '.join(others)}, not on "
                        f"{dataset}; pass --datasets {','.join(others)} or train the baselines "
                        f"on {dataset}")
    seeds = sorted({int(r["seed"]) for _, r in here})
    configs = sorted({int(r["config"]) for _, r in here})
    want_seeds = sorted({r.seed for r in wanted})
    want_configs = sorted({r.config for r in wanted})
    if set(want_seeds) - set(seeds):
        raise UserError(f"baseline {where} has seeds {_indices(seeds)} of {model} on {dataset}, "
                        f"this comparison uses seeds {_indices(want_seeds)}; pass --seeds "
                        f"{_indices(seeds)} or rerun the baselines with --seeds "
                        f"{_indices(want_seeds)}")
    if set(want_configs) - set(configs):
        fix = (f"pass --configs {len(configs)}" if configs == list(range(len(configs))) else
               "pass the study options the baselines were trained with")
        raise UserError(f"baseline {where} has configs {_indices(configs)} of {model} on "
                        f"{dataset}, this comparison uses configs {_indices(want_configs)}; "
                        f"{fix} or rerun the baselines with `sweep {study_flags} --configs "
                        f"{len(want_configs)}`")
    by_id: dict[str, tuple[BaselineStudy, dict]] = {}
    for study, columns in here:
        by_id.setdefault(columns["run_id"], (study, columns))
    missing = [r.run_id for r in wanted if r.run_id not in by_id]
    if missing:
        raise UserError(f"baseline {where} lacks run(s) {', '.join(missing[:3])}"
                        f"{' ...' if len(missing) > 3 else ''} of this comparison; rerun the "
                        "baselines with this comparison's study options")
    for run in wanted:
        study, columns = by_id[run.run_id]
        expected = _jsonable(run.columns())
        differ = [k for k in sorted(set(expected) | set(columns))
                  if expected.get(k) != columns.get(k)]
        if differ:
            was = ", ".join(f"{k}={columns.get(k)!r}" for k in differ)
            now = ", ".join(f"{k}={expected.get(k)!r}" for k in differ)
            raise UserError(f"baseline {study.root}'s run {run.run_id} has {was}, this "
                            f"comparison's config {run.config} of {model} has {now}; pass the "
                            "study options the baselines were trained with (--study, --configs, "
                            "--space) or rerun the baselines")
        reused[run.run_id] = study
    wanted_ids = {r.run_id for r in wanted}
    extra = sorted({k for k in by_id if k not in wanted_ids})
    if extra:
        notes.append(f"{where} also holds {len(extra)} run(s) of {model} on {dataset} that "
                     f"this comparison does not use (e.g. {extra[0]}); they are left out")


def _finished_rows(reused: dict[str, BaselineStudy]) -> pd.DataFrame:
    """Every row of the reused runs; each must have its final evaluation."""
    frames = []
    for root in dict.fromkeys(s.root for s in reused.values()):
        ids = {run_id for run_id, s in reused.items() if s.root == root}
        try:
            rows = load_rows(root)
        except UserError:
            rows = pd.DataFrame(columns=["run_id", "final"])
        rows = rows[rows["run_id"].isin(ids)]
        done = set(rows.loc[rows["final"].eq(True), "run_id"])
        unfinished = sorted(ids - done)
        if unfinished:
            raise UserError(f"baseline {root} is unfinished: run {unfinished[0]} has no final "
                            f"evaluation ({len(unfinished)} such runs); rerun the command that "
                            "trained it to finish it")
        frames.append(rows)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _check_fid_feature(rows: pd.DataFrame, fid_feature: str) -> None:
    if fid_feature in ("auto", "none") or "fid_feature" not in rows:
        return
    used = sorted(set(rows["fid_feature"].dropna()) - {fid_feature})
    if used:
        raise UserError(f"the baselines' FID used {', '.join(used)} features, this comparison "
                        f"asks for {fid_feature}; pass --fid-feature {used[0]}")


def _with_overrides(run: RunSpec, overrides: dict[str, Any]) -> RunSpec:
    """``run`` with the new model's hyperparameters fixed from the command line."""
    loss = model_registry.get(run.model)
    values = {**run.hp, "n_disc": run.n_disc, "disc_bn": run.disc_bn}
    values = {k: v for k, v in values.items() if k in loss.defaults}
    return make_run(run.model, run.dataset, run.seed, {**values, **overrides}, config=run.config,
                    options=dict(run.options) or None,
                    arch=run.arch)


def plan_comparison(
    new_model: str,
    baseline_dirs: Sequence[str | Path],
    *,
    profile,
    study: str = "default",
    datasets: Sequence[str] | None = None,
    models: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    num_configs: int | None = None,
    space: str | None = None,
    overrides: dict[str, Any] | None = None,
) -> ComparisonPlan:
    """Check the baselines against the protocol and decide what to train; writes nothing.

    ``profile``: a configuration (``sweeps.config``). ``models``: the baseline models (default:
    every model of the baseline directories but ``new_model``). ``overrides``: hyperparameters
    of ``new_model`` fixed in every configuration. Raises a one-line ``ValueError`` (a
    ``UserError`` where files are concerned) naming what differs and the fix.
    """
    model_registry.get(new_model)
    if study == "phase3":
        raise UserError("compare does not run phase3 (it needs the new model's own phase-1 "
                        "results); compare with --study phase1, then rerun phase 3 by hand")
    if study not in STUDIES:
        raise UserError(f"unknown study {study!r}; choose one of: "
                        f"{', '.join(s for s in STUDIES if s != 'phase3')}")
    if not baseline_dirs and not models:
        raise UserError("name the baselines: --baselines DIR (e.g. results/default_preview), or "
                        "--models ns_gan,... to train them beside the new model")
    for model in models or ():
        model_registry.get(model)
    found = read_baselines(baseline_dirs)
    notes: list[str] = []
    present = list(dict.fromkeys(r.get("model") for s in found for r in s.runs.values()))
    if new_model in present:
        notes.append(f"the baselines also hold {new_model}; the comparison trains its own "
                     f"{new_model} runs and leaves those out")
    chosen = [m for m in (models if models is not None else present) if m != new_model]
    chosen = list(dict.fromkeys(chosen))
    if not chosen:
        where = f"{_where(found)} holds no model but" if found else "--models names only"
        raise UserError(f"{where} {new_model}: nothing to compare with; pass results of "
                        "other models (--baselines) or --models to train baselines")

    full = build_study(study, profile=profile, datasets=datasets, models=[new_model, *chosen],
                       seeds=seeds, num_configs=num_configs, space=space)
    study_datasets = tuple(dict.fromkeys(r.dataset for r in full.runs))
    for dataset in study_datasets:
        data.get(dataset)
    wanted_profile = _jsonable(configs.fingerprinted(full.config))

    reused: dict[str, BaselineStudy] = {}
    sources: dict[str, tuple[Path, ...]] = {}
    trained = []
    for model in chosen:
        holders = [s for s in found if any(r.get("model") == model for r in s.runs.values())]
        if not holders:
            trained.append(model)
            continue
        # a directory of studies may hold the model under several profiles: use the matching
        mismatch = {s.root: _profile_mismatch(s, wanted_profile) for s in holders}
        if all(mismatch.values()):
            raise UserError(mismatch[holders[0].root])
        for s in holders:
            if mismatch[s.root]:
                notes.append(f"{s.root} holds {model} under profile {s.profile.get('name')}, "
                             "not this comparison's; left out")
        holders = [s for s in holders if not mismatch[s.root]]
        for dataset in study_datasets:
            wanted = [r for r in full.runs if r.model == model and r.dataset == dataset]
            _check_runs(model, dataset, wanted, holders, reused, notes,
                        f"--study {study}" + (f" --space {space}" if space else ""))
        sources[model] = tuple(dict.fromkeys(reused[r.run_id].root for r in full.runs
                                             if r.model == model))
    rows = _finished_rows(reused)
    _check_fid_feature(rows, full.config.evaluation.fid_feature)

    overrides = dict(overrides or {})
    runs = [(_with_overrides(r, overrides) if overrides else r) if r.model == new_model else r
            for r in full.runs if r.model == new_model or r.model in trained]
    own = Study(f"compare_{new_model}", tuple(runs), full.config)
    return ComparisonPlan(
        new_model=new_model, study_name=study, study=own, baselines=tuple(chosen),
        sources=sources, trained=tuple(trained), baseline_rows=rows, datasets=study_datasets,
        configs=tuple(sorted({r.config for r in full.runs})),
        seeds=tuple(sorted({r.seed for r in full.runs})), overrides=overrides,
        notes=tuple(notes),
    )


def comparison_rows(plan: ComparisonPlan, results_dir: str | Path) -> pd.DataFrame:
    """The reused baseline rows and the rows the comparison trained, as one frame."""
    own = load_rows(results_dir)
    own = own[own["run_id"].isin({r.run_id for r in plan.study.runs})]
    frames = [f for f in (plan.baseline_rows, own) if not f.empty]
    rows = pd.concat(frames, ignore_index=True)
    if "fid_feature" in rows:
        for dataset, part in rows.groupby("dataset"):
            used = sorted(set(part["fid_feature"].dropna()))
            if len(used) > 1:
                raise UserError(f"on {dataset} the baselines' and the new model's FID used "
                                f"different features ({', '.join(used)}); rerun with "
                                f"--fid-feature set to the baselines' and another --results-dir")
    return rows


def protocol_markdown(plan: ComparisonPlan, results_dir: str | Path) -> str:
    """The report's last section: what was compared, reused and trained, under what."""
    titles = data.titles()
    profile = plan.study.config
    reused = [f"{model_title(m)} (`{m}`) from "
              f"{', '.join(f'`{p}`' for p in plan.sources[m])} (reused, not retrained)"
              for m in plan.baselines if m in plan.sources]
    trained = [f"{model_title(m)} (`{m}`) trained here" for m in plan.trained]
    lines = [
        "## Protocol", "",
        f"- New model: {model_title(plan.new_model)} (`{plan.new_model}`), trained in "
        f"`{results_dir}`.",
        f"- Baselines: {'; '.join(reused + trained)}.",
        f"- Profile: {profile.name} ({profile.description or 'custom'}); the baselines' "
        "study.json records the same configuration, every key that changes results (the "
        "runs of its study section are checked one by one).",
        f"- Study: {plan.study_name}; configurations {_indices(plan.configs)} by index "
        "(configuration 0 is each model's author default, configuration i the i-th draw of the "
        "study's sampler for that model: the same draw, not the same values, across models), "
        f"seeds {_indices(plan.seeds)} for every configuration.",
        f"- Data sets: {', '.join(titles.get(d, d) for d in plan.datasets)}.",
        f"- Evaluation latents: the same for every run (EVAL_SEED {EVAL_SEED}).",
    ]
    if plan.overrides:
        fixed = ", ".join(f"{k}={v}" for k, v in plan.overrides.items())
        lines.append(f"- Hyperparameters of the new model fixed from the command line in every "
                     f"configuration: {fixed} (the baselines keep the study's).")
    return "\n".join(lines) + "\n"


def write_comparison(
    plan: ComparisonPlan,
    results_dir: str | Path,
    out_dir: str | Path | None = None,
    *,
    score: str = "last",
    metrics: Sequence[str] | None = None,
) -> tuple[Comparison, list[Path]]:
    """Compare and write ``comparison.md`` (the report of ``reports.compare`` and the
    protocol), ``comparison.csv`` (every number) and the PNG figures into ``out_dir``
    (default RESULTS_DIR/comparison). Returns the comparison and the paths written."""
    out = Path(out_dir) if out_dir is not None else Path(results_dir) / REPORT_DIR
    rows = comparison_rows(plan, results_dir)
    comparison = compare(rows, plan.new_model, plan.baselines, metrics, score,
                         titles=data.titles())
    markdown = comparison.markdown() + "\n" + protocol_markdown(plan, results_dir)
    written = [out / "comparison.md", out / "comparison.csv"]
    atomic_write(written[0], markdown)
    atomic_write(written[1], comparison.table.to_csv(index=False))
    for name, figure in comparison.figures().items():
        atomic_write(out / f"{name}.png", png(figure))
        written.append(out / f"{name}.png")
    return comparison, written
