"""The one device-mesh helper: work spread over every local device along one axis.

The engine shards a task's runs over it, the evaluation shards FID feature batches over it;
with a single device there is no mesh and arrays stay where JAX puts them.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

AXIS = "devices"


def local_mesh() -> Mesh | None:
    """A 1-D mesh over the local devices named :data:`AXIS`, or None with one device."""
    devices = jax.local_devices()
    return Mesh(np.array(devices), (AXIS,)) if len(devices) > 1 else None


def padded(n: int, mesh: Mesh | None) -> int:
    """``n`` rounded up to a multiple of the mesh's device count."""
    count = 1 if mesh is None else mesh.size
    return -(-n // count) * count


def shard(tree: Any, mesh: Mesh | None) -> Any:
    """Split every leaf's leading axis over the mesh (a no-op without one)."""
    if mesh is None:
        return tree
    return jax.device_put(tree, NamedSharding(mesh, PartitionSpec(AXIS)))


def replicate(tree: Any, mesh: Mesh | None) -> Any:
    """A full copy of every leaf on every device of the mesh (the default device without)."""
    if mesh is None:
        return jax.device_put(tree)
    return jax.device_put(tree, NamedSharding(mesh, PartitionSpec()))
