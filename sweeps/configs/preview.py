"""What the default ``make sweep`` uses on a machine without an accelerator: a study that shows
learning within a quarter of an hour on 2 CPU cores (docs/usage.md, "The preview profile").

The study's eight models at full width, but one seed, a few hundred steps, and a point of the
narrow (phase 2) search space in place of the author defaults: its fixed values (beta1 0.5,
n_disc 1, no D batch norm for WGAN-GP and DRAGAN, BEGAN's lambda_k 1e-3) and the top of its
learning-rate range, 1e-3 (the other author defaults are inside its ranges), because at the
author learning rates (5e-5 .. 2e-4) nothing moves in the first thousand steps, and with n_disc
5 G gets a fifth of the updates; some models take another narrow value where that point learned
nothing (:data:`MODEL_OVERRIDES`). ``make sweep`` sizes the steps to the machine
(``benchmark.runner.step_budget``; the rows then say ``preview[steps=N]``).

P/R/F1 at the end scores recall on N = 200 test triangles, precision on the protocol's N = 1,000
samples (docs/protocol.md §8.3): recall inverts G per test triangle (~21 ms each on 2 CPU cores),
precision only measures each sample's distance to the manifold (~2.5 s for 1,000, so ~2 s a
model more than at 200). At N = 200 precision moves in steps of 0.005, and a model whose true
precision is ~0.004 (WGAN) would read 0, and F1 0, by chance.
"""

from sweeps.configs import default

# The preview's per-model points of the narrow space, where the shared one (lr 1e-3, the author
# defaults otherwise) learned nothing in 300 steps on seed 0 and another narrow value did
# (docs/usage.md, "The preview profile": 300-step trials, median squared sample distance to the
# triangles): MM GAN and LSGAN without D batch norm (D's BN: 233 and 151 -> 15.5 and 15.0), WGAN
# clipping at 0.1 (the narrow range is 0.01 .. 1; 188 -> 9.4), BEGAN at lr 2e-4 (all-white
# samples at 1e-3 -> a blob).
MODEL_OVERRIDES = (
    ("began", (("lr", 2e-4),)),
    ("lsgan", (("disc_bn", False),)),
    ("mm_gan", (("disc_bn", False),)),
    ("wgan", (("clip", 0.1),)),
    # SNGAN keeps its own beta1 0 and n_disc 5 (and beta2 0.9) at the preview's lr 1e-3; the
    # other new models take the shared point (docs/family.md: at their own lr 2e-4 nothing
    # was learned in 300 steps; DCGAN learns at 1e-3).
    ("sngan", (("beta1", 0.0), ("n_disc", 5))),
    # GRAN keeps its authors' beta1 0 (its d_lr_ratio 0.4 is fixed in the narrow space), at
    # the preview's lr 1e-3 for G, and, like MM GAN and LSGAN, trains without D's batch norm
    # (a narrow value): with it nothing was learned in 300 steps (recall distance 184.6), without
    # it 8.16 (docs/protocol.md §13.4, docs/family.md).
    ("gran", (("beta1", 0.0), ("disc_bn", False))),
)


def get_config():
    c = default.get_config()
    c.name = "preview"
    c.description = ("preview: seed 0, 400 steps at lr 1e-3 (BEGAN 2e-4) and the narrow space's "
                     "fixed values (beta1 0.5, n_disc 1, ...), evaluated every 100; P/R/F1 "
                     "(precision N=1000, recall N=200) at the end")
    c.schedule.steps, c.schedule.eval_every = 400, 100
    c.evaluation.metrics.fid.samples = 2_000
    c.evaluation.metrics.precision_recall.samples = 200  # recall's test triangles
    c.evaluation.metrics.precision_recall.precision_samples = 1_000  # precision's samples
    c.evaluation.recompute_bn = 16
    c.hparams.fixed_from = "narrow"
    c.hparams.overrides = (("lr", 1e-3),)
    c.hparams.model_overrides = MODEL_OVERRIDES
    c.study.seeds = (0,)
    c.execution.workers = 0  # one worker process per CPU core (docs/speed.md: +24% on 2 cores)
    return c
