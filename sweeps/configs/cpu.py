"""The older reduced profile: the author defaults, 50 steps; the pipeline end to end, no
learning."""

from sweeps.configs import default


def get_config():
    c = default.get_config()
    c.name = "cpu"
    c.description = "reduced: 50 steps, evaluated at 25 and 50; P/R/F1 (N=200) at the end"
    c.schedule.steps, c.schedule.eval_every = 50, 25
    c.evaluation.metrics.fid.samples = 2_000
    c.evaluation.metrics.precision_recall.samples = 200
    c.evaluation.debias_bn = True
    return c
