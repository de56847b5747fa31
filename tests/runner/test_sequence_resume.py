"""A sequence task (SeqGAN, MLE on the oracle) trains chunk by chunk and resumes from its last
chunk's checkpoint (``benchmark.runner.sequences``): an interrupted task ends with the rows of
an uninterrupted one, compiles each kind of chunk once, advances the study's bar per chunk and
leaves no checkpoint behind once done (unless asked to keep it). SeqGAN's smoke schedule."""

from __future__ import annotations

import pytest

from benchmark.runner import sequences
from benchmark.runner.engine import run_study
from benchmark.runner.results import read_rows
from benchmark.runner.tasks import make_tasks
from benchmark.training import seqgan as sg
from sweeps.studies import build_study

TIMING = ("train_seconds",)


class Killed(Exception):
    pass


class Bar:
    """The study's bar as train_task sees it; ``kill_after``: raise after that many chunks
    (each checkpointed before the bar hears of it), as a kill right after a checkpoint."""

    def __init__(self, kill_after: int | None = None):
        self.kill_after, self.trained_steps, self.skipped_steps, self.chunks = kill_after, 0, 0, 0

    def trained(self, run_steps: int) -> None:
        self.trained_steps += run_steps
        self.chunks += 1
        if self.chunks == self.kill_after:
            raise Killed

    def skipped(self, run_steps: int, evaluations: int) -> None:
        assert evaluations == 0
        self.skipped_steps += run_steps

    def skip_rest(self) -> None:
        raise AssertionError("the task was not finished")


def _strip(rows):
    return [{k: v for k, v in r.items() if k not in TIMING} for r in rows]


@pytest.fixture(scope="module")
def setting():
    study = build_study("seqgan", profile="smoke", seeds=[0, 1])
    tasks = {t.runs[0].model: t for t in make_tasks(study.runs, study.config.execution.max_group)}
    return study, tasks, sequences.corpus(study.config)


@pytest.mark.slow  # compiles SeqGAN's smoke chunks (~30 s on the shared 2-core machine)
def test_an_interrupted_task_resumes_to_the_rows_of_an_uninterrupted_one(
        setting, tmp_path, monkeypatch):
    study, tasks, data = setting
    task = tasks["seqgan"]
    plan = sequences.chunks(sg.SMOKE, adv=True)
    assert [c[0] for c in plan] == ["start", "pre", "pre", "d", "adv", "adv", "end"]
    assert sum(c[2] for c in plan) == sequences.points(sg.SMOKE, adv=True)[-1][0]

    traces = {"pre": 0, "adv": 0}  # a jitted function's Python body runs once per trace
    for kind, name in (("pre", "pre_chunk"), ("adv", "adv_chunk")):
        real = getattr(sg, name)

        def counted(*args, _real=real, _kind=kind, **kwargs):
            traces[_kind] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(sg, name, counted)
    real_programs = sequences.programs
    real_programs.cache_clear()
    try:
        calm = Bar()
        whole = sequences.train_task(task, data, study, tmp_path / "calm", progress=calm)
        assert traces == {"pre": 1, "adv": 1}  # two chunks of each kind, one program each
        assert calm.trained_steps == 2 * 4 and calm.chunks == len(plan)  # per chunk

        root = tmp_path / "killed"
        ckpt_dir = root / "groups" / task.task_id / sequences.CHECKPOINTS
        first = Bar(kill_after=3)  # killed after the second MLE block's checkpoint
        with pytest.raises(Killed):
            sequences.train_task(task, data, study, root, progress=first)
        assert ckpt_dir.is_dir() and not read_rows(ckpt_dir.parent / "rows.jsonl")

        def dying_adv(*args, **kwargs):
            raise Killed  # a kill inside an adversarial block: its chunk is not saved

        monkeypatch.setattr(sequences, "programs",
                            lambda sched: real_programs(sched)._replace(adv=dying_adv))
        second = Bar()
        with pytest.raises(Killed):
            sequences.train_task(task, data, study, root, progress=second)
        assert second.skipped_steps == 2 * 2 and second.trained_steps == 0  # MLE blocks
        monkeypatch.setattr(sequences, "programs", real_programs)

        third = Bar()
        resumed = sequences.train_task(task, data, study, root, progress=third)
        assert third.skipped_steps == 2 * 2 and third.trained_steps == 2 * 2
        assert _strip(resumed) == _strip(whole)
        assert _strip(read_rows(ckpt_dir.parent / "rows.jsonl")) == _strip(whole)
        samples = (sequences.SAMPLES_TXT, task.runs[0].run_id)
        assert ((root / "samples" / samples[1] / samples[0]).read_text()
                == (tmp_path / "calm" / "samples" / samples[1] / samples[0]).read_text())
        assert traces == {"pre": 1, "adv": 1}  # resuming compiled nothing again

        # killed after the last chunk's checkpoint, before the rows: nothing is trained again
        (ckpt_dir.parent / "rows.jsonl").unlink()
        fourth = Bar()
        assert _strip(sequences.train_task(task, data, study, root, progress=fourth)) == \
            _strip(whole)
        assert fourth.skipped_steps == 2 * 4 and fourth.chunks == 0
    finally:
        real_programs.cache_clear()  # drop the counting programs


@pytest.mark.slow  # trains the smoke study's two tasks
@pytest.mark.parametrize("keep", [False, True])
def test_a_finished_task_leaves_no_checkpoint_unless_kept(tmp_path, keep):
    study = build_study("seqgan", profile="smoke", seeds=[0])
    run_study(study, tmp_path, progress=False, keep_checkpoints=keep)
    kept = sorted(p.parent.name for p in (tmp_path / "groups").glob(
        f"*/{sequences.CHECKPOINTS}"))
    assert len(list((tmp_path / "groups").iterdir())) == 2
    assert kept == (sorted(p.name for p in (tmp_path / "groups").iterdir()) if keep else [])
