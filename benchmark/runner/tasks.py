"""A study as a list of tasks: each task is one group of runs trained together.

Runs of one data set that share a structure (model, n_disc, D batch norm, static options,
G schedule, architecture) form a group, in chunks of at most ``max_group`` runs; each group
is trained by one compiled program and writes its own results, so groups can run in any order and
anywhere that sees the results directory.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict

from sweeps.runs import RunSpec, options_tag


@dataclasses.dataclass(frozen=True)
class Group:
    """Runs of one data set and one structure, trained together."""

    group_id: str
    dataset: str
    runs: tuple[RunSpec, ...]


def group_runs(runs: tuple[RunSpec, ...], max_group: int) -> list[Group]:
    """Runs grouped by (data set, structure), in chunks of at most ``max_group``."""
    buckets: dict[tuple, list[RunSpec]] = defaultdict(list)
    for run in runs:
        buckets[(run.dataset, *run.structure_key)].append(run)
    groups = []
    for (dataset, model, n_disc, disc_bn, options, g_schedule, arch), members in \
            buckets.items():
        tag = options_tag(options, g_schedule, arch)
        base = f"{model}{tag}_{dataset}_nd{n_disc}_bn{int(disc_bn)}"
        for i in range(0, len(members), max_group):
            groups.append(Group(f"{base}_{i // max_group}", dataset,
                                tuple(members[i:i + max_group])))
    return groups
