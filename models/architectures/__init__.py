"""The architecture registry's members: one file each, registered by
``@register_architecture("name")`` (:mod:`models.registry`); every module here is imported."""

from models.registry import import_all

import_all(__name__, __path__)
