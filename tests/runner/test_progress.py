"""The study's progress bar counts evaluation work: it reaches 100% only when the last
evaluation is done, and its weights follow the measured times. No training."""

from __future__ import annotations

import pytest

from benchmark.runner import progress as bar_module
from benchmark.runner.progress import StudyProgress, TaskWork, prior_eval_seconds, study_work
from benchmark.runner.tasks import make_tasks
from sweeps.config import resolve
from sweeps.studies import build_study

PRF = ("precision_recall",)


def _work():
    return [TaskWork("a", runs=2, total=4, evals=[2, 4], kinds=[(), PRF]),
            TaskWork("b", runs=1, total=4, evals=[2, 4], kinds=[(), PRF])]


def test_study_work_lists_the_metrics_due_at_each_evaluation():
    study = build_study("default", profile="preview", models=["ns_gan", "vae"])
    work = study_work(make_tasks(study.runs, 256), study.config)
    assert [w.runs for w in work] == [1, 1]
    for w in work:
        assert w.total == 400 and w.evals == [100, 200, 300, 400]
        assert w.kinds == [(), (), (), PRF]  # P/R/F1 at the last evaluation only (preview)


def test_bar_reaches_the_end_only_after_the_last_evaluation(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(bar_module.time, "perf_counter", lambda: clock[0])
    p = StudyProgress(_work(), resolve("preview"), enabled=False)
    prior_prf = prior_eval_seconds(PRF, resolve("preview")) / bar_module.PRIOR_STEP_SECONDS
    assert p.remaining() == pytest.approx(
        12 + 3 * bar_module.BASE_EVAL_SECONDS / bar_module.PRIOR_STEP_SECONDS + 3 * prior_prf)

    def tick(seconds):
        clock[0] += seconds

    p.start("a")
    tick(2.0)
    p.trained(4)  # 0.5 s per run-step
    assert p.step_seconds() == 0.5
    tick(1.0)
    p.evaluated(2)  # 0.5 s per run: 1 run-step each
    assert p.eval_weight(()) == pytest.approx(1.0)
    tick(2.0)
    p.trained(4)
    tick(20.0)
    p.evaluated(4)  # P/R/F1: 10 s per run = 20 run-steps each
    assert p.eval_weight(PRF) == pytest.approx(20.0)
    p.start("b")
    p.skipped(2, 1)  # resumed at step 2: counted, not timed
    assert p.step_seconds() == 0.5 and p.eval_weight(()) == pytest.approx(1.0)
    tick(1.0)
    p.trained(2)
    assert p.remaining() == pytest.approx(20.0)  # only task b's last evaluation is left
    assert p.fraction < 1.0
    tick(10.0)
    p.evaluated(4)
    assert p.remaining() == 0.0 and p.fraction == 1.0
    assert p.done == pytest.approx(4 + 2 + 4 + 40 + 2 + 1 + 2 + 20)
    p.close()


def test_the_drawn_bar_ends_at_its_total(monkeypatch):
    p = StudyProgress(_work(), resolve("smoke"), enabled=True)
    for task, runs in (("a", 2), ("b", 1)):
        p.start(task)
        for step in (2, 4):
            p.trained(2 * runs)
            assert p._bar.n < p._bar.total
            p.evaluated(step)
    assert p._bar.n == p._bar.total
    p.close()


def test_the_drawn_total_is_fixed_up_front_and_the_position_never_moves_back(monkeypatch):
    """Measured times far from the prior (training 10x slower, P/R/F1 far cheaper) used to
    move the total (0/70, 2/9, 4/11, 20/20); now the total is the up-front estimate and only
    the position follows the measured weights, forward."""
    clock = [0.0]
    monkeypatch.setattr(bar_module.time, "perf_counter", lambda: clock[0])
    p = StudyProgress(_work(), resolve("preview"), enabled=True)
    up_front = p.total
    assert up_front == round(p.remaining())
    seen = []
    for task, runs in (("a", 2), ("b", 1)):
        p.start(task)
        for step in (2, 4):
            clock[0] += 1.6 * 2 * runs  # 1.6 s per run-step: 10x the prior
            p.trained(2 * runs)
            seen.append((p._bar.total, p._bar.n))
            clock[0] += 0.01 * runs
            p.evaluated(step)
            seen.append((p._bar.total, p._bar.n))
    totals, positions = zip(*seen, strict=True)
    assert set(totals) == {up_front}
    assert list(positions) == sorted(positions)
    assert positions[-1] == up_front and all(n < up_front for n in positions[:-1])
    p.close()


def test_a_smoke_seqgan_study_counts_its_schedules_epochs_and_batches(monkeypatch):
    """A sequence task's work is its runs x its rows' steps (SeqGAN smoke schedule: 2 MLE
    epochs, then 2 adversarial batches for seqgan), with no separate evaluation: they run
    inside its one compiled program, which the runner reports as its training."""
    study = build_study("seqgan", profile="smoke", seeds=[0, 1])
    tasks = {t.runs[0].model: t for t in make_tasks(study.runs, study.config.execution.max_group)}
    work = {w.task_id: w for w in study_work(list(tasks.values()), study.config)}
    mle, seqgan = work[tasks["mle"].task_id], work[tasks["seqgan"].task_id]
    assert (mle.runs, mle.total, mle.evals, mle.kinds) == (2, 2, [], [])
    assert (seqgan.runs, seqgan.total, seqgan.evals, seqgan.kinds) == (2, 4, [], [])

    clock = [0.0]
    monkeypatch.setattr(bar_module.time, "perf_counter", lambda: clock[0])
    p = StudyProgress([mle, seqgan], study.config, enabled=False)
    assert p.remaining() == 2 * 2 + 2 * 4 and p.total == 12
    p.start(mle.task_id)
    clock[0] += 4.0  # the task's program: 2 runs x 2 epochs, its evaluations inside
    p.trained(2 * 2)  # as benchmark.runner.sequences.train_task reports it
    assert p.step_seconds() == pytest.approx(1.0) and p.remaining() == 8
    assert p.position() == 4 and not p.finished
    p.start(seqgan.task_id)
    p.skip_rest()  # finished by an earlier call
    assert p.finished and p.position() == p.total
