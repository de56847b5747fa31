"""The paper's schedule (docs/protocol.md §4.5): each data set's step count and checkpoint
interval, FID on 10,000 samples, P/R/F1 on 1,000 with the thorough inversion at every
evaluation."""

from sweeps.configs import default


def get_config():
    c = default.get_config()
    c.name = "paper"
    c.description = "the paper's schedule: 15,625 steps on 28x28 data, evaluated every 3,906"
    c.evaluation.expensive_every_eval = True
    c.evaluation.metrics.fid.samples = 10_000
    c.evaluation.metrics.precision_recall.samples = 1000
    c.evaluation.metrics.precision_recall.thorough = True
    return c
