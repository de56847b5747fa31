"""The preview's step budget (benchmark.runner.step_budget) with a fake clock: what is measured, the
steps chosen for known rates, the choice recorded in the profile's name and reused on a
rerun. Nothing is compiled or timed."""

from __future__ import annotations

import dataclasses
import json
import os

import pytest

from benchmark.runner import step_budget
from benchmark.runner.progress import PRIOR_STEP_SECONDS, prior_eval_seconds
from benchmark.runner.results import MANIFEST
from benchmark.runner.tasks import make_tasks
from sweeps import config as configs
from sweeps.studies import build_study


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _fake_step(clock, compile_s, step_s):
    """A ``step(task, start, stop)`` that advances the fake clock: ``compile_s`` on a task's
    first step, then ``step_s[model]`` per step."""
    seen = set()

    def step(task, start, stop):
        model = task.runs[0].model
        if task.task_id not in seen:
            seen.add(task.task_id)
            clock.now += compile_s
            start += 1
        clock.now += (stop - start) * step_s[model]

    return step


def test_ladder_goes_down_in_quarter_hundreds_to_a_quarter():
    assert step_budget.ladder(400) == [400, 375, 350, 325, 300, 275, 250, 225, 200, 175, 150,
                                       125, 100]
    assert step_budget.ladder(390)[:2] == [390, 375]
    assert step_budget.ladder(30) == [30, 25]


def test_choose_steps_takes_the_most_steps_that_fit():
    probes = [step_budget.Probe("a", 1, 4.0, 0.5), step_budget.Probe("b", 2, 4.0, 0.25)]
    # per step: 1 x 0.5 + 2 x 0.25 = 1.0 s; spent 10 s, overhead 20 s, evaluations 1 s/100 steps
    evals = lambda steps: {"a": steps / 200, "b": steps / 200}  # noqa: E731
    fits = lambda steps: 10 + steps * 1.0 + steps / 100 + step_budget.OVERHEAD_S  # noqa: E731
    assert step_budget.choose_steps(400, probes, 10.0, fits(400), evals) == 400
    assert step_budget.choose_steps(400, probes, 10.0, fits(300), evals) == 300
    assert step_budget.choose_steps(400, probes, 10.0, fits(300) - 0.01, evals) == 275
    assert step_budget.choose_steps(400, probes, 10.0, 1.0, evals) == 100  # never below 1/4
    # the same rates give the same steps, whatever the clock said when
    assert len({step_budget.choose_steps(400, probes, 10.0, fits(333), evals)
                for _ in range(3)}) == 1


def test_measure_times_the_steps_after_the_compiling_one():
    clock = FakeClock()
    study = build_study("default", profile="preview", models=["ns_gan", "wgan_gp"])
    tasks = make_tasks(study.runs, study.config.execution.max_group)
    probes = step_budget.measure(tasks, _fake_step(clock, 8.0, {"ns_gan": 0.25,
                                                                "wgan_gp": 0.5}), clock)
    # the fake's first step of a task is its compilation alone
    assert [(p.runs, p.compile_s, p.step_s) for p in probes] == [(1, 8.0, 0.25),
                                                                  (1, 8.0, 0.5)]
    assert clock.now == 2 * 8.0 + step_budget.PROBE_STEPS * (0.25 + 0.5)


def test_evaluations_scale_with_how_much_slower_this_machine_trains():
    study = build_study("default", profile="preview", models=["ns_gan"])
    tasks = make_tasks(study.runs, study.config.execution.max_group)
    slow = [step_budget.Probe("g", 1, 1.0, 2 * PRIOR_STEP_SECONDS)]
    seconds = step_budget.eval_estimate(tasks, study.config, slow)
    # preview: evaluations at 100, 200, 300 (nothing due but the basics), 300 is the last (P/R/F1)
    prf = prior_eval_seconds(("precision_recall",), study.config)
    [task] = tasks
    assert seconds(300) == pytest.approx(
        {task.task_id: 2 * (2 * prior_eval_seconds((), study.config) + prf)})
    fast = [step_budget.Probe("g", 1, 1.0, PRIOR_STEP_SECONDS / 4)]  # never below the prior
    assert step_budget.eval_estimate(tasks, study.config, fast)(300)[task.task_id] == \
        pytest.approx(seconds(300)[task.task_id] / 2)


def test_makespan_deals_tasks_to_the_worker_that_comes_free_first():
    assert step_budget.makespan([5, 5, 3, 3, 1], 1) == 17
    assert step_budget.makespan([5, 5, 3, 3, 1], 2) == 9  # 5+3+1 | 5+3
    assert step_budget.makespan([8, 1, 1, 1], 2) == 8  # one long task bounds it
    assert step_budget.makespan([], 4) == 0


def test_workers_buy_steps():
    # eight tasks of 1 run, 0.5 s a step, no evaluations: 4 s per step in one process, 2 s on
    # two workers (which load the measured programs from the compilation cache: no compile)
    probes = [step_budget.Probe(str(i), 1, 8.0, 0.5) for i in range(8)]
    evals = lambda steps: {}  # noqa: E731
    budget = step_budget.OVERHEAD_S + 2.0 * 300
    assert step_budget.choose_steps(400, probes, 0.0, budget, evals, lanes=1) == 150
    assert step_budget.choose_steps(400, probes, 0.0, budget, evals, lanes=2) == 300
    assert step_budget.choose_steps(400, probes, 0.0, budget - 0.01, evals, lanes=2) == 275
    # three tasks on two workers: the last one runs alone
    three = probes[:3]
    assert step_budget.choose_steps(400, three, 0.0, step_budget.OVERHEAD_S + 1.0 * 300,
                                    evals, lanes=2) == 300


def _one_process(study):
    return dataclasses.replace(study, config=configs.override(study.config,
                                                              {"execution.workers": 1}))


def test_fit_renames_the_profile_and_a_rerun_reuses_the_choice(tmp_path, monkeypatch):
    study = _one_process(build_study("default", profile="preview", models=["ns_gan", "wgan_gp"]))
    out = tmp_path / "default_preview"
    clock = FakeClock()
    step = _fake_step(clock, 8.0, {"ns_gan": 0.25, "wgan_gp": 0.5})
    monkeypatch.setitem(step_budget.BUDGETS, "preview", 1e6)
    same = step_budget.fit(study, out, clock=clock, step=step, log=lambda s: None)
    assert same.config == study.config  # everything fits: the profile as it is
    monkeypatch.setitem(step_budget.BUDGETS, "preview", 300.0)
    lines = []
    clock = FakeClock()
    fitted = step_budget.fit(study, out, clock=clock, step=_fake_step(
        clock, 0.0, {"ns_gan": 0.25, "wgan_gp": 0.5}), log=lines.append)
    # 0.75 s per step of both runs: 300 s leaves room for fewer than 400 steps
    steps = fitted.config.schedule.steps
    assert steps < 400 and steps in step_budget.ladder(400)
    assert fitted.config.name == f"preview[steps={steps}]"
    assert fitted.runs == study.runs and f"{steps} of 400 steps" in lines[0]
    assert not out.exists()  # nothing written
    out.mkdir()
    (out / MANIFEST).write_text(json.dumps({"config": {"name": fitted.config.name,
                                                       "schedule": {"steps": steps}}}))
    again = step_budget.fit(study, out, step=lambda *a: pytest.fail("measured again"),
                            log=lines.append)
    assert again.config == fitted.config


def test_fit_leaves_profiles_without_a_budget_and_foreign_directories_alone(tmp_path):
    smoke = build_study("default", profile="smoke", models=["ns_gan"])
    never = lambda *a: pytest.fail("measured")  # noqa: E731
    assert step_budget.fit(smoke, tmp_path, step=never) is smoke
    preview = build_study("default", profile="preview", models=["ns_gan"])
    (tmp_path / "notes.txt").write_text("mine")  # the engine refuses this directory
    assert step_budget.fit(preview, tmp_path, step=never) is preview


def test_fit_with_workers_projects_onto_the_workers(tmp_path, monkeypatch):
    """The preview's workers (one per core): the tasks dealt to two workers; fewer steps fit
    one process."""
    study = build_study("default", profile="preview", models=["ns_gan", "wgan_gp"])
    assert study.config.execution.workers == 0  # one per core
    monkeypatch.setattr(step_budget.workers, "cores", lambda: [0, 1])  # two cores
    monkeypatch.setitem(step_budget.BUDGETS, "preview", 300.0)
    lines, fitted = [], {}
    for name, each in (("two", study), ("one", _one_process(study))):
        clock = FakeClock()
        fitted[name] = step_budget.fit(each, tmp_path / name, clock=clock, log=lines.append,
                                       step=_fake_step(clock, 0.0, {"ns_gan": 0.5,
                                                                    "wgan_gp": 0.5}))
    assert "per worker (2 workers)" in lines[0] and "workers" not in lines[1]
    assert fitted["one"].config.schedule.steps < fitted["two"].config.schedule.steps


def test_a_slow_machine_gets_fewer_steps_and_is_told_what_it_costs(tmp_path, monkeypatch):
    """Below half the steps the command says what the full preview would take there; where even
    a quarter does not fit, that it is over the budget and by how much."""
    study = _one_process(build_study("default", profile="preview", models=["ns_gan", "wgan_gp"]))
    monkeypatch.setattr(step_budget, "eval_estimate", lambda *a: lambda steps: {})
    monkeypatch.setitem(step_budget.BUDGETS, "preview", 100.0)
    lines = []
    for step_s, steps in ((0.75, 100), (0.5, 150), (0.25, 300)):  # seconds per step of both
        clock = FakeClock()
        fitted = step_budget.fit(study, tmp_path / str(step_s), clock=clock, log=lines.append,
                                 step=_fake_step(clock, 0.0, {"ns_gan": step_s / 2,
                                                              "wgan_gp": step_s / 2}))
        assert fitted.config.schedule.steps == steps
    slow, slower, fast = lines
    # 100 steps: 0.75 x 100 + 20 s of overhead + the 3 probe steps = 97.25 s: fits, 125 not
    assert "100 of 400 steps fit" in slow and "--steps 400 trains the full preview, about " \
        "5 minutes here" in slow  # 0.75 x 3 + 0.75 x 400 + 20 = 322 s
    assert "150 of 400 steps fit" in slower and "--steps 400" in slower
    assert "300 of 400 steps fit" in fast and "--steps" not in fast
    monkeypatch.setitem(step_budget.BUDGETS, "preview", 60.0)
    clock, over = FakeClock(), []
    fitted = step_budget.fit(study, tmp_path / "over", clock=clock, log=over.append,
                             step=_fake_step(clock, 0.0, {"ns_gan": 0.375, "wgan_gp": 0.375}))
    # 97.25 s at the fewest steps, 1.6 minutes
    assert fitted.config.schedule.steps == 100
    assert "even 100 steps, the fewest it trains, project to 2 minutes, over its 1-minute " \
        "budget" in over[0]


def _where(study, tasks):
    """A stand-in for one measuring process's share: each probe records the process and its
    first core (in place of its compile and step seconds)."""
    return [step_budget.Probe(t.task_id, len(t.runs), float(os.getpid()),
                              float(min(os.sched_getaffinity(0)))) for t in tasks]


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores")
def test_measuring_workers_share_the_tasks_each_on_its_cores():
    study = build_study("default", profile="preview", models=["ns_gan", "lsgan", "wgan", "vae",
                                                              "began"])
    tasks = make_tasks(study.runs, study.config.execution.max_group)
    probes = step_budget.measure_as_workers(study, tasks, 2, fn=_where)
    assert [p.task_id for p in probes] == [t.task_id for t in tasks]  # the study's order
    pids = [p.compile_s for p in probes]
    assert pids[0::2] == [pids[0]] * 3 and pids[1::2] == [pids[1]] * 2  # dealt in turn
    assert pids[0] != pids[1] and os.getpid() not in pids  # two new processes
    first, second = step_budget.workers.core_sets(2)
    assert [p.step_s for p in probes[:2]] == [min(first), min(second)]  # each on its cores
