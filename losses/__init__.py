"""The loss registry: one line per model of the study (docs/protocol.md §2).

A new loss is one new file that builds a ``GanLoss`` plus one line here; it then appears in
``python -m benchmark train --model NAME``, in sweeps, results and reports.
"""

from __future__ import annotations

from losses import began, dragan, hinge, lsgan, mm_gan, ns_gan, vae, wgan, wgan_gp
from losses.base import GanLoss, HParam, Loss, VaeLoss

REGISTRY: dict[str, Loss] = {
    "mm_gan": mm_gan.LOSS,
    "ns_gan": ns_gan.LOSS,
    "lsgan": lsgan.LOSS,
    "wgan": wgan.LOSS,
    "wgan_gp": wgan_gp.LOSS,
    "dragan": dragan.LOSS,
    "began": began.LOSS,
    "vae": vae.LOSS,
    "hinge": hinge.LOSS,  # not in the paper: the worked example of adding a loss (README)
}

# The paper's eight models: what the named studies (default, phase1..3) train unless told.
PAPER_MODELS = ("mm_gan", "ns_gan", "lsgan", "wgan", "wgan_gp", "dragan", "began", "vae")

# Losses whose static variants are built by a factory: name -> make(**options).
VARIANTS = {"dragan": dragan.make, "began": began.make}


def names() -> list[str]:
    return list(REGISTRY)


def get(name: str, options: dict[str, str] | None = None) -> Loss:
    """The loss ``name``, built with its static ``options`` (e.g. DRAGAN's perturbation).

    Raises a one-line ``ValueError`` for an unknown name, option or option value.
    """
    if name not in REGISTRY:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(REGISTRY)}")
    loss = REGISTRY[name]
    options = dict(options or {})
    for key, value in options.items():
        allowed = loss.options.get(key)
        if allowed is None:
            raise ValueError(f"model {name!r} has no option {key!r}; it has: "
                            f"{', '.join(loss.options) or 'none'}")
        if value not in allowed:
            raise ValueError(f"option {key}={value!r} for {name!r}; choose one of: "
                            f"{', '.join(allowed)}")
    return VARIANTS[name](**options) if options else loss


__all__ = ["REGISTRY", "GanLoss", "HParam", "Loss", "VaeLoss", "get", "names"]
