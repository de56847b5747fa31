"""The named studies (docs/protocol.md §6.5 to §6.7), each a change of the configuration's
``study`` section (``sweeps/configs/default.py``), applied over a profile's
(:func:`sweeps.config.for_study`): the ``default`` study changes nothing, so a profile's study
values (the preview's seed 0) are its own; the others set what they fix. ``sweeps.studies``
builds the runs from the resulting section."""

DATASETS = ("mnist", "fashion_mnist", "cifar10", "celeba", "triangles")

# name -> (description, changes of the study section)
STUDIES: dict[str, tuple[str, dict]] = {
    "default": ("every model at its author defaults, 3 seeds, on the triangles", {}),
    "phase1": ("wide space, 100 configurations per model, seed 0",
               {"space": "wide", "configs": 100, "seeds": (0,), "datasets": DATASETS,
                "sampler": "v1"}),
    "phase2": ("narrow space, 50 configurations per model, seed 0",
               {"space": "narrow", "configs": 50, "seeds": (0,), "datasets": DATASETS,
                "sampler": "v1"}),
    "phase3": ("best phase-1 configuration per model and data set, seeds 0..49",
               {"space": "wide", "seeds": tuple(range(50)), "datasets": DATASETS}),
    "seqgan": ("SeqGAN and its MLE baseline on SeqGAN's oracle, 3 seeds",
               {"seeds": (0, 1, 2), "datasets": ("oracle",), "models": ("mle", "seqgan")}),
    "custom": ("the arguments' models, data sets, seeds, space and configs", {"seeds": (0,)}),
}
