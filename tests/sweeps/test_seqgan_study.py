"""The ``seqgan`` study through the protocol's machinery (docs/protocol.md §11.6): SeqGAN and
its MLE baseline on the oracle as a study, its rows, its resumption, its report, and the
one-line errors of a model on a data set that does not offer what it needs."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest

from benchmark.cli import main as cli
from benchmark.cli.report_files import write_report
from benchmark.runner import sequences
from benchmark.runner.engine import run_study
from benchmark.runner.results import load_rows
from benchmark.training import seqgan as sg
from reports.tables import summary
from sweeps import config as profiles
from sweeps.studies import build_study


def test_the_study_lists_mle_and_seqgan_on_the_oracle_and_keeps_their_own_rates():
    study = build_study("seqgan", profile="preview", seeds=[0, 1])
    assert [(r.model, r.dataset, r.seed) for r in study.runs] == [
        ("mle", "oracle", 0), ("mle", "oracle", 1), ("seqgan", "oracle", 0),
        ("seqgan", "oracle", 1)]
    assert {r.hp["lr"] for r in study.runs} == {sg.HPARAMS["g_lr"]}  # not the preview's 1e-3
    assert sequences.schedule(profiles.resolve("smoke")) is sg.SMOKE
    assert [p[0] for p in sequences.points(sg.SMOKE, adv=False)] == [0, 1, 2]
    assert [p[0] for p in sequences.points(sg.SMOKE, adv=True)] == [0, 1, 2, 3, 4]
    assert [p[0] for p in sequences.points(sg.PREVIEW, adv=True)] == [
        0, 1, 6, 11, 16, 21, 26, 31, 36, 40]


class Drawn(Exception):
    pass


def _sha(tokens) -> str:
    return hashlib.sha256(np.asarray(tokens, np.int32).tobytes()).hexdigest()


# sha256 of the int32 train and test sequences, pinned from the runner's and seqgan-preview's
# draws (identical) before they became one function, sequences.draw_corpus
SMOKE_CORPUS = ("e8d9cce63ecefa149d4527142fe18abfcd8f7f89a663994a0db4c3dc4241b270",
                "e01b1e727100f67bb53c4c6b57b915847f14a520d19a91add51abb4ffd6aef25")
SEEDED_32_16 = ("a0024d0ec6698adabb47b6ee91fb4075c7e10c20dc53dfc26615f789e6a63810",
                "5307801432c8d83efff1303eea372898979806829da635d80f048f2257105951")


def test_the_oracle_corpus_is_pinned_for_its_fixed_key(monkeypatch):
    smoke = sequences.corpus(profiles.resolve("smoke"))
    assert smoke["oracle_name"] == "seeded_normal_66_small"
    assert smoke["train"].shape == (256, 8) and smoke["test"].shape == (64, 8)
    assert np.asarray(smoke["train"][:2]).tolist() == [[22, 31, 46, 26, 10, 32, 16, 14],
                                                       [7, 17, 16, 12, 20, 5, 35, 6]]
    assert (_sha(smoke["train"]), _sha(smoke["test"])) == SMOKE_CORPUS
    monkeypatch.setitem(sequences.CORPUS_SIZES, "preview", (32, 16))  # the full vocabulary
    seeded = sequences.corpus(profiles.resolve("preview"))
    assert seeded["oracle_name"] == "seeded_normal_66"
    assert (_sha(seeded["train"]), _sha(seeded["test"])) == SEEDED_32_16

    # seqgan-preview draws its sequences through the same function
    from benchmark.tools import seqgan_preview

    drawn = []

    def spy(sched, n_train, n_test, data_dir=None):
        drawn.append((sched, n_train, n_test))
        raise Drawn  # stop before training

    monkeypatch.setattr(sequences, "draw_corpus", spy)
    with pytest.raises(Drawn):
        seqgan_preview.run(sg.SMOKE, seeds=1, n_train=256, n_test=64, log=lambda _: None)
    assert drawn == [(sg.SMOKE, 256, 64)]


@pytest.mark.slow  # compiles SeqGAN's smoke program (~1 min on the shared 2-core machine)
def test_seqgan_smoke_study_writes_rows_resumes_and_reports(tmp_path, monkeypatch):
    study = build_study("seqgan", profile="smoke", seeds=[0, 1])
    final = run_study(study, tmp_path, progress=False)
    assert sorted(zip(final["model"], final["seed"], strict=True)) == [
        ("mle", 0), ("mle", 1), ("seqgan", 0), ("seqgan", 1)]
    assert all(math.isfinite(v) for v in final["nll_oracle"])
    assert not final["failed"].any()
    rows = load_rows(tmp_path)
    assert sorted(rows[rows["model"] == "mle"]["step"].unique()) == [0, 1, 2]
    assert sorted(rows[rows["model"] == "seqgan"]["step"].unique()) == [0, 1, 2, 3, 4]
    for run_id in final["run_id"]:
        lines = (tmp_path / "samples" / run_id / sequences.SAMPLES_TXT).read_text().splitlines()
        assert len(lines) == 1 + sequences.SAMPLE_COUNT
        assert all(len(line.split()) == sg.SMOKE.length for line in lines[1:])
    assert not list(tmp_path.rglob("*.png"))  # image-only outputs are skipped

    # rerun: every task is finished, nothing is trained again
    def no_training(*args, **kwargs):
        raise AssertionError("a finished task was trained again")

    monkeypatch.setattr(sequences, "programs", no_training)
    again = run_study(study, tmp_path, progress=False)
    assert sorted(again["nll_oracle"]) == sorted(final["nll_oracle"])

    table = summary(load_rows(tmp_path))
    assert list(table["model"]) == ["mle", "seqgan"]
    assert (table["n_nll_oracle"] == 2).all() and table["nll_oracle_std"].notna().all()
    written = write_report(tmp_path)
    markdown = written[0].read_text()
    assert "nll_oracle" in markdown and "MLE" in markdown and "SeqGAN" in markdown
    assert "## Sampled sequences" in markdown
    assert any(p.name == "curves_nll_oracle.png" for p in written)


def test_phase1_then_phase3_on_the_oracle_retrains_the_lowest_nll_oracle_config(tmp_path):
    """The commands of README's SeqGAN section: phase 1 with 2 configs, phase 3 with 2 seeds
    (its models and data set default to the phase-1 directory's family: mle on the oracle)."""
    p1, p3 = tmp_path / "p1", tmp_path / "p3"
    smoke = ["--profile", "smoke", "--no-progress"]
    assert cli.main(["sweep", "--study", "phase1", "--models", "mle", "--datasets", "oracle",
                     "--configs", "2", "--results-dir", str(p1), *smoke]) == 0
    phase1 = load_rows(p1)
    assert sorted(phase1["config"].unique()) == [0, 1]
    trained = phase1[phase1["phase"] != "random"]
    best = trained.loc[trained["nll_oracle"].astype(float).idxmin()]
    assert cli.main(["sweep", "--study", "phase3", "--phase1-dir", str(p1), "--seeds", "0-1",
                     "--results-dir", str(p3), *smoke]) == 0
    phase3 = load_rows(p3)
    assert sorted(set(zip(phase3["model"], phase3["seed"], strict=True))) == [("mle", 0),
                                                                             ("mle", 1)]
    assert set(phase3["config"]) == {best["config"]}
    assert set(phase3["lr"]) == {best["lr"]} and set(phase3["beta1"]) == {best["beta1"]}

    # lower NLL-oracle wins whichever config holds it; the untrained step 0 is no candidate
    other = 1 - int(best["config"])
    rows = phase1.copy()
    rows.loc[rows["step"] == 0, "nll_oracle"] = 0.0
    rows.loc[(rows["config"] == other) & (rows["step"] == 2), "nll_oracle"] = 0.5
    study = build_study("phase3", profile="smoke", phase1_rows=rows, seeds=[0])
    assert [(r.model, r.dataset, r.config) for r in study.runs] == [("mle", "oracle", other)]


@pytest.mark.parametrize("args, message", [
    (["train", "--model", "ns_gan", "--dataset", "oracle"],
     "model 'ns_gan' needs images, which oracle does not offer; choose one of: mnist"),
    (["train", "--model", "mle", "--dataset", "triangles"],
     "model 'mle' needs sequences, which triangles does not offer; choose one of: oracle"),
    (["sweep", "--study", "seqgan", "--models", "seqgan,vae"],
     "model 'vae' needs images, which oracle does not offer"),
    (["sweep", "--study", "seqgan", "--profile", "cpu"], "has no SeqGAN schedule"),
])
def test_a_model_on_a_data_set_without_what_it_needs_is_one_line(tmp_path, capsys, args,
                                                                 message):
    out = tmp_path / "out"
    assert cli.main([*args, "--results-dir", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("error: "), err
    assert not out.exists()


def test_plan_refuses_the_sequence_study_in_one_line(capsys):
    assert cli.main(["plan", "--study", "seqgan"]) == 2
    err = capsys.readouterr().err
    assert "seqgan-preview --project-paper" in err and err.count("\n") == 1, err
