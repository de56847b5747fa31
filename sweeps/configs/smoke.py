"""For tests: 4 steps, evaluated at 2 and 4, on small samples."""

from sweeps.configs import default


def get_config():
    c = default.get_config()
    c.name = "smoke"
    c.description = "for tests: 4 steps, evaluated at 2 and 4"
    c.schedule.steps, c.schedule.eval_every = 4, 2
    c.evaluation.grid_size = 16
    c.evaluation.metrics.fid.samples = 64
    c.evaluation.metrics.precision_recall.samples = 20
    c.evaluation.debias_bn = True
    return c
