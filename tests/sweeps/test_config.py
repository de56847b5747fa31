"""The one configuration (sweeps/config.py): profiles as small changes of the default, the
command line's keys through ml_collections, and the fingerprint of what changes results."""

from __future__ import annotations

import pickle

import pytest

from sweeps import config as configs
from sweeps.runs import Study, make_run


def _default():
    return configs.derive({}, name="default")


def test_each_profile_is_a_small_change_of_the_default():
    default = configs.flatten(_default())
    for name in configs.PROFILES:
        profile = configs.flatten(configs.resolve(name))
        assert profile.keys() == default.keys(), name  # a profile adds no key
        changed = {k for k in default if profile[k] != default[k]} - {"name", "description"}
        assert 0 < len(changed) <= 12, (name, changed)
    preview = configs.resolve("preview")
    assert (preview.schedule.steps, preview.schedule.eval_every) == (400, 100)
    assert preview.evaluation.metrics.fid.samples == 2_000
    assert preview.study.seeds == (0,) and preview.hparams.fixed_from == "narrow"
    # precision at the protocol's N = 1,000, recall's inversions at 200 (docs/protocol.md §8.3)
    prf = preview.evaluation.metrics.precision_recall
    assert (prf.samples, prf.precision_samples) == (200, 1_000)
    assert preview.execution.workers == 0  # one worker per core (docs/speed.md)
    paper = configs.resolve("paper")
    assert paper.evaluation.metrics.precision_recall.precision_samples is None  # = samples
    assert paper.schedule.steps is None  # each data set's paper step count
    assert paper.evaluation.metrics.fid.samples == 10_000  # docs/protocol.md §7.3


def test_every_metric_declares_its_settings_where_the_configuration_reads_them():
    from metrics.registry import METRICS

    assert set(configs.METRIC_SETTINGS) == set(METRICS)
    for name, metric in METRICS.items():
        assert isinstance(metric.settings, configs.METRIC_SETTINGS[name]), name
        defaults = configs.metric_settings(_default(), name)
        assert metric.configure(defaults) == metric.settings  # the defaults, one place


def test_command_line_values_are_parsed_into_each_keys_type():
    smoke = configs.resolve("smoke")
    out = configs.override(smoke, {"schedule.steps": "7", "evaluation.debias_bn": "no",
                                   "evaluation.metrics.fid.samples": "32",
                                   "study.seeds": "(0, 1)", "execution.data_dir": "/d",
                                   "fidelity.g_schedule": "modulo",
                                   "hparams.overrides": "(('lr', 0.001),)"}, parse=True)
    assert out.schedule.steps == 7 and out.evaluation.debias_bn is False
    assert out.evaluation.metrics.fid.samples == 32 and out.study.seeds == (0, 1)
    assert out.execution.data_dir == "/d" and out.fidelity.g_schedule == "modulo"
    # the name lists what changes results, except what the rows hold in columns of their own
    # (the G schedule, the FID features, the study section's seeds, models...)
    assert out.name == ("smoke[steps=7,debias_bn=False,metrics.fid.samples=32,"
                        "overrides=(('lr', 0.001),)]")
    assert configs.command_line(out.name) == (
        "--profile smoke --steps 7 --config evaluation.debias_bn=False --config "
        "evaluation.metrics.fid.samples=32 --config hparams.overrides=(('lr', 0.001),)")
    assert smoke.schedule.steps == 4  # frozen: the profile itself is unchanged
    again = configs.override(out, {"schedule.steps": 9})  # a later change keeps the earlier tags
    assert again.name.startswith("smoke[steps=9,debias_bn=False")


def test_a_setting_whose_default_is_none_takes_the_command_line_and_keeps_fingerprints():
    # P/R/F1's precision_samples defaults to None (as many as samples): the command line sets it
    # as an int, and at None it is left out of the fingerprint, so the studies of before the
    # setting keep theirs
    key = "evaluation.metrics.precision_recall.precision_samples"
    smoke = configs.resolve("smoke")
    out = configs.override(smoke, {key: "500"}, parse=True)
    assert out.evaluation.metrics.precision_recall.precision_samples == 500
    assert out.name == "smoke[metrics.precision_recall.precision_samples=500]"
    assert configs.command_line(out.name) == f"--profile smoke --config {key}=500"
    with pytest.raises(ValueError, match=f"--config {key}=0 must be >= 1"):
        configs.override(smoke, {key: "0"}, parse=True)
    with pytest.raises(ValueError, match="precision_samples"):
        configs.override(smoke, {key: 2.5})
    assert "precision_samples" not in configs.fingerprinted(smoke)["evaluation"]["metrics"][
        "precision_recall"]
    assert configs.fingerprinted(configs.resolve("preview"))["evaluation"]["metrics"][
        "precision_recall"]["precision_samples"] == 1_000
    run = make_run("ns_gan", "triangles", 0)
    assert Study("s", (run,), out).fingerprint() != Study("s", (run,), smoke).fingerprint()

    from benchmark.cli import main as cli

    args = cli.build_parser().parse_args(["train", "--model", "ns_gan", "--profile", "smoke",
                                          "--config", f"{key}=500"])
    assert cli._config(args).evaluation.metrics.precision_recall.precision_samples == 500


@pytest.mark.parametrize("changes, message", [
    ({"schedule.stepz": "3"}, "no key 'schedule.stepz'"),
    ({"grid_size": "3"}, "did you mean evaluation.grid_size?"),
    ({"schedule.steps": "x"}, "schedule.steps=x: invalid literal for int()"),
    ({"schedule.steps": "0"}, "--steps 0 must be >= 1"),
    ({"evaluation.fid_feature": "vgg"}, "--fid-feature vgg is not one of: auto, inception"),
    ({"execution.keep_checkpoints": "maybe"}, "Non-boolean argument"),
    ({"execution.workers": "-1"}, r"--workers -1 must be >= 0 \(0: one per CPU core\)"),
])
def test_a_bad_key_or_value_is_one_line(changes, message):
    with pytest.raises(ValueError, match=message) as err:
        configs.override(configs.resolve("smoke"), changes, parse=True)
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="schedule.steps"):  # Python values are typed too
        configs.override(configs.resolve("smoke"), {"schedule.steps": 2.5})


def test_the_fingerprint_hashes_what_changes_results_and_nothing_else():
    run = make_run("ns_gan", "triangles", 0)
    smoke = configs.resolve("smoke")
    base = Study("s", (run,), smoke).fingerprint()

    def with_(changes):
        return Study("s", (run,), configs.override(smoke, changes)).fingerprint()

    for how in ({"execution.data_dir": "/elsewhere"}, {"execution.keep_checkpoints": True},
                {"execution.max_group": 8}, {"execution.workers": 2}):
        assert with_(how) == base, how  # how it runs, not what it computes
    for what in ({"evaluation.fid_feature": "lenet"}, {"schedule.steps": 5},
                 {"evaluation.metrics.fid.samples": 65}, {"fidelity.matmul_precision": "tf32"}):
        assert with_(what) != base, what


def test_a_configuration_is_frozen_hashable_and_travels_to_workers():
    preview = configs.resolve("preview")
    assert pickle.loads(pickle.dumps(preview)) == preview
    assert hash(configs.resolve("preview")) == hash(preview)
    with pytest.raises(AttributeError):
        preview.schedule.steps = 3


def test_the_command_line_maps_its_flags_and_config_keys_onto_one_configuration():
    from benchmark.cli import main as cli

    parser = cli.build_parser()
    args = parser.parse_args(["train", "--model", "ns_gan", "--profile", "smoke", "--steps", "6",
                              "--config", "evaluation.metrics.fid.samples=32",
                              "--data-dir", "/data", "--keep-checkpoints"])
    config = cli._config(args)
    assert config.name == "smoke[steps=6,metrics.fid.samples=32]"
    assert config.execution.data_dir == "/data" and config.execution.keep_checkpoints
    study = cli._train_study(args).config
    assert configs.fingerprinted(study) | {"study": None} == \
        configs.fingerprinted(config) | {"study": None}
    assert (study.study.models, study.study.datasets, study.study.seeds) == (
        ("ns_gan",), ("triangles",), (0,))  # what train trains
    help_text = parser._subparsers._group_actions[0].choices["train"].format_help()
    assert "evaluation.metrics.fid.samples=2000" in help_text  # --help lists every key


def test_a_named_study_is_a_change_of_the_study_section_over_the_profiles():
    from sweeps.studies import build_study

    preview = configs.resolve("preview")
    assert configs.for_study(preview, "default").study.seeds == (0,)  # the preview's own
    phase1 = configs.for_study(preview, "phase1").study
    assert (phase1.space, phase1.configs, phase1.seeds, phase1.sampler) == (
        "wide", 100, (0,), "v1")
    assert configs.for_study(preview, "phase3").study.seeds == tuple(range(50))
    assert configs.for_study(configs.resolve("paper"), "default").study.seeds == (0, 1, 2)
    # back from phase 1 to the default study: the profile's study section again
    again = configs.for_study(configs.for_study(preview, "phase1"), "default").study
    assert (again.space, again.seeds, again.configs) == ("default", (0,), None)
    # a study's config records what it trains; a command-line change of it is kept
    study = build_study("custom", profile="smoke", models=["ns_gan"], space="wide",
                        num_configs=2)
    assert (study.config.study.models, study.config.study.configs) == (("ns_gan",), 2)
    chosen = configs.override(configs.for_study(configs.resolve("smoke"), "phase1"),
                              {"study.configs": "3", "study.datasets": "('mnist',)"},
                              parse=True)
    study = build_study("phase1", profile=chosen, models=["ns_gan"])
    assert {(r.dataset, r.config) for r in study.runs} == {("mnist", c) for c in range(3)}
    with pytest.raises(ValueError, match="unknown study 'phase4'"):
        configs.for_study(preview, "phase4")
