"""A study as a list of tasks: each task is the runs trained together by one program.

Runs of one data set that share a structure (model, n_disc, D batch norm, static options,
G schedule, architecture) form a task, in chunks of at most ``max_group`` runs (the profile's
name, kept); each task is trained by one compiled program and writes its own results (under
``groups/<task_id>/``, the stored layout's name), so tasks can run in any order and anywhere
that sees the results directory.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict

from sweeps.runs import RunSpec, options_tag


@dataclasses.dataclass(frozen=True)
class Task:
    """Runs of one data set and one structure, trained together."""

    task_id: str
    dataset: str
    runs: tuple[RunSpec, ...]


def make_tasks(runs: tuple[RunSpec, ...], max_group: int) -> list[Task]:
    """Runs grouped by (data set, structure), in chunks of at most ``max_group``."""
    buckets: dict[tuple, list[RunSpec]] = defaultdict(list)
    for run in runs:
        buckets[(run.dataset, *run.structure_key)].append(run)
    tasks = []
    for (dataset, model, n_disc, disc_bn, options, g_schedule, arch), members in \
            buckets.items():
        tag = options_tag(options, g_schedule, arch)
        base = f"{model}{tag}_{dataset}_nd{n_disc}_bn{int(disc_bn)}"
        for i in range(0, len(members), max_group):
            tasks.append(Task(f"{base}_{i // max_group}", dataset,
                              tuple(members[i:i + max_group])))
    return tasks
