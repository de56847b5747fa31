"""The two registries of ``models/``: architectures and models (recipes).

An *architecture* (``models/architectures/<name>.py``) builds a G and a D for the facts of a
run's structure. A *model* (``models/zoo/<name>.py``) is a recipe: its objective (``losses``),
its default architecture, the family that trains it (``benchmark.training.families``), the
data it needs, its defaults and search spaces. Each registers itself with one decorator line;
the packages import every module they hold (:func:`import_all`), so nothing else is edited.

Neither this module nor the recipes import JAX or flax, so ``sweeps`` and ``reports`` (and a
notebook on a laptop) read the models without them: a recipe names its objective by reference
(``"ns_gan"`` is ``losses.ns_gan.OBJECTIVE``), imported when a family first asks for it
(:attr:`Model.objective`), and the architectures (flax modules) are imported when one is first
asked for (:func:`registered_architectures`).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import pkgutil
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from models.hparams import HParam

if TYPE_CHECKING:
    import flax.linen as nn

    from losses.base import ElboObjective, Objective

Z_DIM = 64  # docs/protocol.md §3.6


def import_all(package: str, path) -> None:
    """Import every module of ``package`` (its ``__path__``): a module registers itself."""
    for info in pkgutil.iter_modules(path):
        importlib.import_module(f"{package}.{info.name}")


# --- architectures ---------------------------------------------------------------------------


class NetFacts(Protocol):
    """What an architecture may read of a run's structure (``benchmark.training.Structure``)."""

    image_shape: tuple[int, int, int]
    z_dim: int
    disc_bn: bool
    num_classes: int | None


class Architecture:
    """A G and a D. Subclass, override :meth:`generator` and :meth:`discriminator` (and
    :meth:`unsupported` where the image shapes are restricted), and decorate the class with
    ``@register_architecture("name")``.

    G is called ``G(z, train=...)`` (and ``labels=y`` where ``conditional``); D is called
    ``D(x, train=...)`` (``labels=y`` likewise) and returns [B] or ``([B], {head: ...})``.
    """

    name: str = ""
    # True: G and D take the labels, ``G(z, train=..., labels=y)``, ``D(x, train=...,
    # labels=y)`` (a conditional architecture; its models need labels)
    conditional: bool = False
    spectral_norm: bool = False  # whether D is spectrally normalised (docs/protocol.md §13.2)
    family: str | None = None  # the only family that can train it (LAPGAN's pyramid), or None

    def generator(self, facts: NetFacts) -> nn.Module:
        raise NotImplementedError

    def discriminator(self, facts: NetFacts) -> nn.Module:
        raise NotImplementedError

    def unsupported(self, image_shape: tuple[int, int, int]) -> str | None:
        """Why ``image_shape`` cannot be used (one line), or None. Default: the stride-2 pairs
        of layers need height and width divisible by 4 (docs/protocol.md §3)."""
        h, w, _ = image_shape
        if h % 4 or w % 4:
            return f"architecture {self.name!r} needs height and width divisible by 4, " \
                f"not {h}x{w}"
        return None


ARCHITECTURES: dict[str, Architecture] = {}


def registered_architectures() -> dict[str, Architecture]:
    """Every registered architecture by name: imports ``models.architectures`` (flax) the
    first time, whose modules register themselves."""
    importlib.import_module("models.architectures")
    return ARCHITECTURES


def register_architecture(name: str) -> Callable[[type], type]:
    """Class decorator: register an :class:`Architecture` subclass under ``name``."""

    def register(cls: type) -> type:
        if name in ARCHITECTURES:
            raise ValueError(f"architecture {name!r} is registered twice")
        instance = cls()
        instance.name = name
        ARCHITECTURES[name] = instance
        return cls

    return register


SPECTRAL_NORM_SUFFIX = "+sn"  # "NAME+sn": NAME with every D layer spectrally normalised


class SpectralNormArchitecture(Architecture):
    """An architecture's G, and its D spectrally normalised: ``NAME+sn``
    (``models.registry.architecture``)."""

    spectral_norm = True

    def __init__(self, base: Architecture):
        if base.spectral_norm:
            raise ValueError(f"architecture {base.name!r} already normalises its D spectrally; "
                             f"drop --spectral-norm")
        self.base = base
        self.name = f"{base.name}+sn"
        self.family = base.family

    def generator(self, facts):
        return self.base.generator(facts)

    def discriminator(self, facts):
        # imported here, by name, as the architectures are: the registry stays free of flax
        return importlib.import_module("models.spectral_norm").spectral_norm(
            self.base.discriminator(facts))

    def unsupported(self, image_shape):
        return self.base.unsupported(image_shape)


@functools.cache
def spectral_normed(base) -> SpectralNormArchitecture:
    """The one ``NAME+sn`` architecture of the registered architecture ``base``."""
    return SpectralNormArchitecture(base)


# A static model option of the new architectures (docs/protocol.md §13): every layer's width
# times this factor, for CPU previews; "full" is the paper's.
WIDTHS = {"full": 1.0, "half": 0.5, "quarter": 0.25}


def width_factor(facts: NetFacts) -> float:
    """The run's ``width`` option (a model option, e.g. ``--option width=quarter``)."""
    return WIDTHS[dict(getattr(facts, "options", ()) or ()).get("width", "full")]


def scaled(width: int, facts: NetFacts) -> int:
    return max(1, int(round(width * width_factor(facts))))


def architecture(name: str) -> Architecture:
    """The registered architecture ``name``, or ``NAME+sn`` (``--spectral-norm``: NAME's G
    and its D spectrally normalised, docs/protocol.md §13.2); a one-line ``ValueError``
    otherwise."""
    known = registered_architectures()
    if name.endswith(SPECTRAL_NORM_SUFFIX) and name[: -len(SPECTRAL_NORM_SUFFIX)] in known:
        return spectral_normed(known[name[: -len(SPECTRAL_NORM_SUFFIX)]])
    if name not in known:
        raise ValueError(f"unknown architecture {name!r}; choose one of: "
                         f"{', '.join(known)} (each also as NAME{SPECTRAL_NORM_SUFFIX}, "
                         f"--spectral-norm)")
    return known[name]


def check_architecture(name: str, image_shape: tuple[int, int, int], dataset: str) -> None:
    """A one-line ``ValueError`` where ``name`` is unknown or cannot take ``image_shape``."""
    why = architecture(name).unsupported(tuple(image_shape))
    if why is not None:
        raise ValueError(f"{why} (data set {dataset!r}); choose another --arch or data set")


# --- models (recipes) ------------------------------------------------------------------------


ObjectiveRef = Any  # "MODULE" | "MODULE.NAME" | ("MODULE.FUNCTION", {kwargs}) | an objective


@dataclasses.dataclass(frozen=True)
class Model:
    """A model of the study: what trains it and with which defaults (docs/protocol.md §2).

    ``common`` holds the author defaults of lr, beta1, n_disc and disc_bn (a model without
    n_disc has one update of every variable per step); each own hyperparameter's default is
    its :attr:`HParam.default`. ``defaults`` is both. ``options`` are static variants
    (first value the default), passed to the recipe function as keyword arguments.
    """

    title: str
    # Its objective in ``losses/`` by reference, imported when first used (:attr:`objective`,
    # :func:`resolve_objective`): ``"MODULE"`` (that module's ``OBJECTIVE``), ``"MODULE.NAME"``
    # or ``("MODULE.FUNCTION", {kwargs})``; an objective itself is taken as it is. None: the
    # model trains outside the step of losses/ (the sequence family, SeqGAN).
    objective_ref: ObjectiveRef
    common: Mapping[str, Any]
    hparams: tuple[HParam, ...] = ()
    family: str = "gan"  # benchmark.training.families
    arch: str = "infogan"  # the default architecture (ARCHITECTURES); --arch picks another
    needs: frozenset[str] = frozenset({"images"})  # what a data set must offer
    latent: str = "uniform"  # models.priors: z ~ U(-1, 1) for the GANs (§3.6)
    # Narrow space's D batch-norm choices (docs/protocol.md §6.1): {yes, no} for every GAN,
    # except WGAN-GP and DRAGAN, whose critic never has batch norm there (v1 params.py).
    narrow_disc_bn: tuple[bool, ...] = (True, False)
    # Where the narrow space's config 0 differs from the defaults (v1's narrow defaults).
    narrow_defaults: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    options: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    name: str = ""  # set by register_model

    @property
    def defaults(self) -> dict[str, Any]:
        """Every hyperparameter's author default: ``common`` and each HParam's."""
        return {**self.common, **{h.name: h.default for h in self.hparams}}

    @property
    def objective(self) -> Objective | ElboObjective | None:
        """The objective the recipe names (``losses.<module>``), imported on first use."""
        return resolve_objective(self.objective_ref)

    @property
    def has_generator_steps(self) -> bool:
        """Whether the model alternates D and G updates (has n_disc and a G schedule)."""
        return "n_disc" in self.common

    def __hash__(self) -> int:
        return hash((self.name, tuple(sorted(self.options))))


def resolve_objective(ref: ObjectiveRef):
    """The objective a recipe names in ``losses/``: ``"ns_gan"`` is ``losses.ns_gan.OBJECTIVE``,
    ``"acgan.NON_SATURATING"`` that name of ``losses.acgan``, ``("began.make", {"clip_k":
    "yes"})`` the call ``losses.began.make(clip_k="yes")`` (one object per call, cached);
    anything else (an objective, None) as it is."""
    if isinstance(ref, str):
        return _objective(ref, ())
    if isinstance(ref, tuple):
        name, kwargs = ref
        return _objective(name, tuple(sorted(kwargs.items())))
    return ref


@functools.cache
def _objective(name: str, kwargs: tuple[tuple[str, Any], ...]):
    module, _, attribute = name.partition(".")
    found = getattr(importlib.import_module(f"losses.{module}"), attribute or "OBJECTIVE")
    return found(**dict(kwargs)) if kwargs else found


RECIPES: dict[str, Callable[..., Model]] = {}

# The paper's eight models: what the named studies (default, phase1..3) train unless told.
PAPER_MODELS = ("mm_gan", "ns_gan", "lsgan", "wgan", "wgan_gp", "dragan", "began", "vae")


def register_model(name: str) -> Callable[[Callable[..., Model]], Callable[..., Model]]:
    """Function decorator: register the recipe ``fn(**options) -> Model`` under ``name``."""

    def register(fn: Callable[..., Model]) -> Callable[..., Model]:
        if name in RECIPES:
            raise ValueError(f"model {name!r} is registered twice")
        RECIPES[name] = fn
        return fn

    return register


def names() -> list[str]:
    """Every registered model: the paper's eight in the paper's order, then the others in
    registration order."""
    return [m for m in PAPER_MODELS if m in RECIPES] + \
        [m for m in RECIPES if m not in PAPER_MODELS]


@functools.cache
def _build(name: str, recipe: Callable[..., Model], options: tuple[tuple[str, str], ...]):
    return dataclasses.replace(recipe(**dict(options)), name=name)


def get(name: str, options: Mapping[str, str] | None = None) -> Model:
    """The model ``name``, built with its static ``options`` (e.g. DRAGAN's perturbation).

    Raises a one-line ``ValueError`` for an unknown name, option or option value.
    """
    if name not in RECIPES:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(names())}")
    base = _build(name, RECIPES[name], ())
    options = dict(options or {})
    for key, value in options.items():
        allowed = base.options.get(key)
        if allowed is None:
            raise ValueError(f"model {name!r} has no option {key!r}; it has: "
                            f"{', '.join(base.options) or 'none'}")
        if value not in allowed:
            raise ValueError(f"option {key}={value!r} for {name!r}; choose one of: "
                            f"{', '.join(allowed)}")
    return _build(name, RECIPES[name], tuple(sorted(options.items()))) if options else base


def check_needs(name: str, offers: frozenset[str], dataset: str) -> None:
    """A one-line ``ValueError`` where the data set does not offer what model ``name`` needs."""
    missing = get(name).needs - set(offers)
    if missing:
        raise ValueError(f"model {name!r} needs {', '.join(sorted(missing))}, which data set "
                         f"{dataset!r} does not offer; choose a data set with "
                         f"{', '.join(sorted(missing))} (e.g. mnist)")
