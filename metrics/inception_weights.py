"""The published FID Inception weights, read safely as arrays.

docs/protocol.md §7.1: the network is the 2015-12-05 Inception graph as ported by pytorch-fid,
published as ``pt_inception-2015-12-05-6726825d.pth`` (the hex is the start of its
sha256). This module reads that PyTorch file without torch and without executing pickled
code: a restricted unpickler resolves only the handful of names a state dict needs (to our
own pure functions), and the tensor bytes are read from the zip archive (torch >= 1.6) or
the legacy stream format. Finding, downloading, checking and caching the file is the
caller's (``benchmark.evaluation.fid_features``).
"""

from __future__ import annotations

import hashlib
import io
import pickle
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

WEIGHTS_FILENAME = "pt_inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = (
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" + WEIGHTS_FILENAME
)
WEIGHTS_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
WEIGHTS_ENV = "GAN_BENCHMARK_INCEPTION_WEIGHTS"

class WeightsError(ValueError):
    """A weights file that is not a readable tensor state dict (the message says why)."""


_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


@dataclass(frozen=True)
class _StorageType:
    dtype: type


@dataclass
class _Storage:
    key: str
    dtype: type
    numel: int
    data: np.ndarray | None = None  # flat, filled from the archive or the legacy stream


@dataclass
class _LazyTensor:
    storage: _Storage
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]

    def materialize(self) -> np.ndarray:
        flat = self.storage.data
        if flat is None:
            raise WeightsError(
                f"corrupt weights file: tensor storage {self.storage.key} has no data")
        itemsize = flat.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            flat[self.offset :],
            shape=self.shape,
            strides=tuple(s * itemsize for s in self.stride),
            writeable=False,
        )
        return np.array(view)  # own the memory, C order


def _rebuild_tensor(storage, storage_offset, size, stride, *_unused) -> _LazyTensor:
    return _LazyTensor(storage, int(storage_offset), tuple(size), tuple(stride))


def _rebuild_parameter(data, *_unused) -> _LazyTensor:
    return data


def _ordered_dict(*args):
    return OrderedDict(*args)


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the names a plain tensor state dict uses; anything else is refused."""

    def __init__(self, file, storages: dict[str, _Storage]):
        super().__init__(file)
        self._storages = storages

    def find_class(self, module: str, name: str):
        if module == "collections" and name == "OrderedDict":
            return _ordered_dict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        raise WeightsError(
            f"weights file refers to {module}.{name}, which a plain state dict never does; "
            "refusing to unpickle it (use the published pytorch-fid file)"
        )

    def persistent_load(self, pid):
        # zip: ('storage', type, key, location, numel); legacy adds view metadata.
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise WeightsError("weights file has an unknown persistent id; not a tensor state dict")
        storage_type, key, numel = pid[1], str(pid[2]), int(pid[4])
        if not isinstance(storage_type, _StorageType):
            raise WeightsError("weights file has an unknown storage type; not a tensor state dict")
        if key not in self._storages:
            self._storages[key] = _Storage(key, storage_type.dtype, numel)
        return self._storages[key]


def _read_zip(path: Path) -> dict:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pkl = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pkl) != 1:
            raise WeightsError(f"{path}: not a PyTorch zip checkpoint (no single data.pkl)")
        prefix = pkl[0][: -len("data.pkl")]
        storages: dict[str, _Storage] = {}
        obj = _RestrictedUnpickler(io.BytesIO(archive.read(pkl[0])), storages).load()
        byteorder = "little"
        if prefix + "byteorder" in names:
            byteorder = archive.read(prefix + "byteorder").decode().strip()
        for key, storage in storages.items():
            raw = archive.read(f"{prefix}data/{key}")
            dtype = np.dtype(storage.dtype).newbyteorder("<" if byteorder == "little" else ">")
            storage.data = np.frombuffer(raw, dtype=dtype, count=storage.numel)
    return obj


def _read_legacy(path: Path) -> dict:
    with open(path, "rb") as f:
        if _RestrictedUnpickler(f, {}).load() != _LEGACY_MAGIC:
            raise WeightsError(f"{path}: not a PyTorch checkpoint (bad magic number)")
        _protocol_version = _RestrictedUnpickler(f, {}).load()
        sys_info = _RestrictedUnpickler(f, {}).load()
        little = bool(sys_info.get("little_endian", True)) if isinstance(sys_info, dict) else True
        storages: dict[str, _Storage] = {}
        obj = _RestrictedUnpickler(f, storages).load()
        keys = _RestrictedUnpickler(f, {}).load()
        for key in keys:
            storage = storages[str(key)]
            dtype = np.dtype(storage.dtype).newbyteorder("<" if little else ">")
            numel = int(np.frombuffer(f.read(8), dtype="<i8" if little else ">i8")[0])
            storage.data = np.frombuffer(f.read(numel * dtype.itemsize), dtype=dtype)
    return obj


def read_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """A PyTorch ``.pth`` state dict as numpy arrays, read without torch or unsafe pickle."""
    path = Path(path)
    try:
        obj = _read_zip(path) if zipfile.is_zipfile(path) else _read_legacy(path)
    except WeightsError:
        raise
    except (pickle.UnpicklingError, EOFError, KeyError, ValueError, IndexError) as exc:
        raise WeightsError(
            f"{path}: unreadable PyTorch state dict ({exc}); re-download it") from exc
    if not isinstance(obj, dict):
        raise WeightsError(f"{path}: holds a {type(obj).__name__}, not a state dict")
    out = {}
    for name, value in obj.items():
        if not isinstance(value, _LazyTensor):
            raise WeightsError(f"{path}: entry {name!r} is not a tensor; not a plain state dict")
        out[str(name)] = value.materialize()
    return out


def sha256_of(path: str | Path) -> str:
    """The hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
