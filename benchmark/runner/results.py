"""Results on disk: one JSON-lines row per (run, evaluation), written atomically.

Layout of a study directory::

    study.json                      name, fingerprint and runs of the study (guards reuse)
    groups/<task_id>/rows.jsonl    one row per (run, evaluation), every hyperparameter a column
    groups/<task_id>/checkpoints/  orbax checkpoints of the task's runs (for resuming)
    samples/<run_id>/step_XXXXXX.png  a grid of samples per run and evaluation

Aggregation is a glob and a ``pandas.concat`` (:func:`load_rows`).
"""

from __future__ import annotations

import io
import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from benchmark.errors import UserError
from benchmark.io import atomic_write
from benchmark.runner.leases import create_once

MANIFEST = "study.json"
log = logging.getLogger(__name__)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    lines = [json.dumps({k: _jsonable(v) for k, v in row.items()}) for row in rows]
    atomic_write(path, ("\n".join(lines) + "\n") if lines else b"")


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of one ``rows.jsonl``; lines that do not parse (a damaged file) are dropped
    with a one-line warning naming the file (the engine trains again what they held)."""
    if not path.exists():
        return []
    rows, damaged = [], 0
    for line in path.read_text(errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            row = None
        if isinstance(row, dict):
            rows.append(row)
        else:
            damaged += 1
    if damaged:
        log.warning("%s: %d damaged line(s) dropped; what they held is trained again on the "
                    "next run of the study", path, damaged)
    return rows


# What other processes of the same study may already have made in a new study directory.
_STUDY_ENTRIES = {MANIFEST, "leases", "groups", "samples", "slurm"}


def prepare_study_dir(root: Path, name: str, fingerprint: str, description: dict) -> None:
    """Create or reopen a study directory; refuse one that holds another study's files.

    The manifest is created exactly once, atomically, whichever of several processes started
    on the same directory gets there first; the others compare fingerprints.
    """
    manifest = root / MANIFEST
    if not manifest.exists():
        strangers = [p.name for p in root.iterdir() if p.name not in _STUDY_ENTRIES
                     and not p.name.startswith(".")] if root.is_dir() else []
        if strangers:
            raise UserError(f"{root} is not empty and is not a study directory (it holds "
                            f"{strangers[0]}); choose another --results-dir")
        root.mkdir(parents=True, exist_ok=True)
        payload = {"name": name, "fingerprint": fingerprint, **description}
        if create_once(manifest, json.dumps(payload, indent=1, default=str).encode()):
            return
    try:
        found = json.loads(manifest.read_text())
    except json.JSONDecodeError as err:
        raise UserError(f"{manifest} is not valid JSON ({err}); delete it or choose "
                        "another --results-dir") from None
    if found.get("fingerprint") != fingerprint:
        raise UserError(
            f"{root} holds study {found.get('name')!r} with another configuration; "
            "choose another --results-dir (or delete that one to start over)"
        )


def load_rows(root: str | Path) -> pd.DataFrame:
    """All result rows under a study directory (or a directory of studies) as one DataFrame.

    The ``study`` column names each row's study directory relative to ``root`` ("." for
    ``root`` itself): a run is (study, run_id), since two studies may share a run id."""
    root = Path(root)
    files = sorted(root.glob("**/rows.jsonl"))
    frames = [pd.DataFrame(read_rows(f)).assign(study=_study_of(f, root)) for f in files]
    frames = [f for f in frames if not f.empty]
    if not frames:
        raise UserError(f"no results under {root}; run `python -m benchmark sweep` first")
    return pd.concat(frames, ignore_index=True)


def _study_of(rows_file: Path, root: Path) -> str:
    """The study directory of ``<study>/groups/<task_id>/rows.jsonl``, relative to root."""
    study = rows_file.parent.parent.parent if rows_file.parent.parent.name == "groups" else (
        rows_file.parent)
    try:
        return study.relative_to(root).as_posix()
    except ValueError:
        return study.as_posix()


def read_image_grid(png: bytes, image_shape: tuple[int, int, int]) -> np.ndarray:
    """The images of a grid written by :func:`image_grid_png`, in order ([n, h, w, c] floats
    in [0, 1], quantised to 1/255): every cell of the grid, ``image_shape`` = (h, w, c)."""
    h, w, c = image_shape
    pixels = np.asarray(Image.open(io.BytesIO(png)), np.float32) / 255.0
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    rows, cols = (pixels.shape[0] - 1) // (h + 1), (pixels.shape[1] - 1) // (w + 1)
    if pixels.shape[-1] != c or (rows * (h + 1) + 1, cols * (w + 1) + 1) != pixels.shape[:2]:
        raise ValueError(f"a grid of {pixels.shape} pixels is not one of {image_shape} images "
                         "with 1 px gaps; was it written by image_grid_png?")
    return np.stack([pixels[1 + r * (h + 1): 1 + r * (h + 1) + h,
                            1 + q * (w + 1): 1 + q * (w + 1) + w]
                     for r in range(rows) for q in range(cols)])


def image_grid_png(images: np.ndarray, cols: int | None = None) -> bytes:
    """A grid of images in [0, 1] ([n, h, w, c]) as PNG bytes (1 px gaps), row by row:
    ``cols`` per row (default: a square grid)."""
    n, h, w, c = images.shape
    cols = cols or int(math.ceil(math.sqrt(n)))
    rows = int(math.ceil(n / cols))
    canvas = np.ones((rows * (h + 1) + 1, cols * (w + 1) + 1, c), np.float32)
    for i, img in enumerate(np.nan_to_num(images, nan=0.0)):
        r, q = divmod(i, cols)
        canvas[1 + r * (h + 1): 1 + r * (h + 1) + h, 1 + q * (w + 1): 1 + q * (w + 1) + w] = img
    pixels = (np.clip(canvas, 0, 1) * 255).round().astype(np.uint8)
    pil = Image.fromarray(pixels[..., 0] if c == 1 else pixels)
    buf = io.BytesIO()
    pil.save(buf, format="PNG")
    return buf.getvalue()
