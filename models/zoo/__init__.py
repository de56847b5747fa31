"""The model registry's members: one recipe file each, registered by
``@register_model("name")`` (:mod:`models.registry`); every module here is imported."""

from models.registry import import_all

import_all(__name__, __path__)
