"""Objectives: what a model's family minimises, as functions of D's outputs
(docs/protocol.md §2). One file each; a model (``models.zoo``) names its objective."""

from __future__ import annotations

from losses.base import ElboObjective, Objective, Outputs

__all__ = ["ElboObjective", "Objective", "Outputs"]
