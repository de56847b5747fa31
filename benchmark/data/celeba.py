"""CelebA from its original files: the aligned JPEGs and ``list_eval_partition.txt``.

docs/protocol.md §5.4: aligned 178x218 images, centre crop 160x160, bilinear resize to
64x64 (TensorFlow 1 semantics, :mod:`benchmark.data.resize`); splits from the partition
file (0 train: the first 162,770; 1 validation: the next 19,867; 2 test: the rest),
file order kept. The study fed the unrounded float resize to the networks; we store
the nearest uint8 (the resized values are multiples of 1/4, so the error is at most
0.5/255; ties go to even).
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import simplejpeg

from benchmark.data import real
from benchmark.data.base import DatasetSpec, Prepared
from benchmark.data.resize import centre_crop, resize_bilinear_tf1
from benchmark.errors import UserError

ARCHIVE = "img_align_celeba.zip"
FOLDER = "img_align_celeba"
PARTITION = "list_eval_partition.txt"
ALIGNED_SHAPE = (218, 178, 3)  # height, width, channels of the aligned images
CROP = 160
SIZE = 64
SPLIT_OF = {0: "train", 1: "validation", 2: "test"}
PUBLISHED_COUNTS = {"train": 162770, "validation": 19867, "test": 19962}
LAYOUT_HINT = (
    f"DIR, DIR/celeba/ or the Google Drive layout (DIR/Img/, DIR/Eval/) holding "
    f"{ARCHIVE} or the folder {FOLDER}/, and {PARTITION}"
)
CHUNK = 512


def manifest_extra() -> dict:
    """What the cache manifest records about the CelebA preparation."""
    return {
        "preprocessing": (
            f"centre crop {CROP}x{CROP} of the aligned {ALIGNED_SHAPE[1]}x{ALIGNED_SHAPE[0]} "
            f"image, TF1 bilinear resize to {SIZE}x{SIZE} (align_corners=False, "
            "half_pixel_centers=False), rounded to the nearest uint8 (ties to even)"
        ),
        "jpeg_decoder": "libjpeg-turbo INTEGER_FAST DCT, fancy upsampling (TF default)",
    }


def prepare(aligned: np.ndarray) -> np.ndarray:
    """(N, 218, 178, 3) uint8 aligned images -> (N, 64, 64, 3) uint8 (docs/protocol.md §5.4)."""
    resized = resize_bilinear_tf1(centre_crop(aligned, CROP, CROP), SIZE, SIZE)
    return np.clip(np.rint(resized), 0, 255).astype(np.uint8)


def parse_partition(text: str, where: str = PARTITION) -> list[tuple[str, str]]:
    """Lines ``000001.jpg 0`` -> [(file name, split name)] in file order."""
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
            raise UserError(f"{where}: line {number} is {line!r}, expected '<file>.jpg 0|1|2'")
        entries.append((fields[0], SPLIT_OF[int(fields[1])]))
    if not entries:
        raise UserError(f"{where}: empty partition file")
    return entries


def _candidates(data_dir: Path) -> list[Path]:
    roots = [data_dir, data_dir / "celeba", data_dir / "CelebA"]
    return [r / sub for r in roots for sub in ("", "Img", "Eval", "Anno")]


def find_files(data_dir: Path) -> tuple[Path, Path]:
    """(images: the zip or the folder, partition file) under data_dir."""
    images = partition = None
    for folder in _candidates(data_dir):
        if images is None:
            for candidate in (folder / FOLDER, folder / ARCHIVE):
                if candidate.exists():
                    images = candidate
                    break
        if partition is None and (folder / PARTITION).is_file():
            partition = folder / PARTITION
    if images is None or partition is None:
        missing = ARCHIVE + f" or {FOLDER}/" if images is None else PARTITION
        raise UserError(f"celeba: no {missing} under {data_dir}; expected {LAYOUT_HINT}")
    return images, partition


def decode(raw: bytes, where: str) -> np.ndarray:
    """JPEG bytes -> (218, 178, 3) uint8, decoded as TensorFlow's default decoder does.

    The study decoded with ``tf.image.decode_png`` (TF's shared image decoder), whose
    JPEG default is libjpeg-turbo's INTEGER_FAST DCT with fancy upsampling; simplejpeg
    with ``fastdct=True, fastupsample=False`` is that decoder (Pillow uses the accurate
    DCT and differs by a few levels). Truncated or damaged files raise a UserError.
    """

    try:
        array = simplejpeg.decode_jpeg(
            raw, colorspace="RGB", fastdct=True, fastupsample=False, strict=True
        )
    except ValueError as exc:
        raise UserError(
            f"{where}: cannot decode the image ({exc}); the file is corrupted or "
            "truncated, download it again"
        ) from exc
    if array.shape != ALIGNED_SHAPE:
        raise UserError(
            f"{where}: image is {array.shape[1]}x{array.shape[0]}, expected the aligned "
            f"{ALIGNED_SHAPE[1]}x{ALIGNED_SHAPE[0]} ({FOLDER})"
        )
    return array


def _reader(images: Path) -> tuple[Callable[[str], bytes], Callable[[str], str], Callable]:
    """A function file name -> bytes, a function naming a member, and a closer."""
    if images.is_dir():
        def read(name: str) -> bytes:
            path = images / name
            if not path.is_file():
                raise UserError(f"celeba: {path} is missing (listed in {PARTITION})")
            try:
                return path.read_bytes()
            except OSError as exc:
                raise UserError(f"celeba: {path} cannot be read ({exc.strerror or exc}); "
                                "check its permissions") from exc

        return read, lambda name: str(images / name), lambda: None
    try:
        archive = zipfile.ZipFile(images)
        members = {Path(m).name: m for m in archive.namelist() if m.endswith(".jpg")}
    except (OSError, zipfile.BadZipFile) as exc:
        raise UserError(
            f"{images}: not a readable zip ({exc}); the archive is corrupted or truncated"
        ) from exc

    def read_member(name: str) -> bytes:
        if name not in members:
            raise UserError(f"celeba: {images} lacks {FOLDER}/{name} (listed in {PARTITION})")
        try:
            return archive.read(members[name])
        except (OSError, zipfile.BadZipFile, EOFError) as exc:
            raise UserError(f"{images}:{members[name]}: corrupted in the archive ({exc})") from exc

    return read_member, lambda name: f"{images}:{members.get(name, name)}", archive.close


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def read_images(
    data_dir: Path, workers: int | None = None
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """{"train", "validation", "test"} uint8 (N, 64, 64, 3) in partition-file order.

    Also returns the sha256 of the partition file and of all JPEG bytes read, in order.
    """
    images, partition_path = find_files(data_dir)
    try:
        partition_bytes = partition_path.read_bytes()
    except OSError as exc:
        raise UserError(f"celeba: {partition_path} cannot be read ({exc.strerror or exc}); "
                        "check its permissions") from exc
    entries = parse_partition(partition_bytes.decode("ascii", "replace"), str(partition_path))
    names = {s: [n for n, split in entries if split == s] for s in SPLIT_OF.values()}
    if not names["train"] or not names["test"]:
        raise UserError(f"{partition_path}: needs train (0) and test (2) entries")
    read, describe, close = _reader(images)
    splits = {s: np.empty((len(v), SIZE, SIZE, 3), np.uint8) for s, v in names.items() if v}
    jpeg_digest = hashlib.sha256()
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for split, out in splits.items():
                done = 0
                for chunk in _chunks(names[split], CHUNK):
                    raws = [read(n) for n in chunk]
                    for raw in raws:
                        jpeg_digest.update(raw)
                    aligned = np.stack(list(pool.map(decode, raws, map(describe, chunk))))
                    out[done : done + len(chunk)] = prepare(aligned)
                    done += len(chunk)
    finally:
        close()
    checksums = {
        PARTITION: hashlib.sha256(partition_bytes).hexdigest(),
        f"{images.name} (all JPEG bytes in partition order)": jpeg_digest.hexdigest(),
    }
    return splits, checksums


def tfds_image(raw: bytes, where: str) -> np.ndarray:
    """One undecoded tfds image, decoded and prepared like the files' images."""
    return prepare(decode(raw, where)[None])[0]


def _read_files(data_dir: Path) -> Prepared:
    splits, checksums = read_images(data_dir)
    return Prepared(splits, str(data_dir), checksums, manifest_extra())


CELEBA = DatasetSpec(
    name="celeba", title="CelebA", image_shape=(SIZE, SIZE, 3),
    train_steps=101250, eval_every=12656,  # 40 * 162000 // 64; docs/protocol.md §4.5
    load=real.loader("celeba", _read_files, LAYOUT_HINT, tfds_name="celeb_a",
                     manifest_extra=manifest_extra(), tfds_decode=tfds_image),
    splits=dict(PUBLISHED_COUNTS),
    # compare_gan v1's FID reference: t2t's dev files, the validation partition
    # (docs/protocol.md §5.4, §7.3); --fid-reference test for the test partition
    fid_reference_split="validation",
    description="CelebA: aligned, centre crop 160, bilinear 64x64; zip + partition file or tfds",
)
