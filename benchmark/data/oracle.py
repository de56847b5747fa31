"""SeqGAN's synthetic data: an oracle LSTM and sequences drawn from it (docs/protocol.md §11.1).

The original experiment's oracle is ``save/target_params_py3.pkl`` of LantaoYu/SeqGAN: a pickled
list of 15 float32 arrays (``target_lstm.py`` parameter order). It is read with an unpickler that
only rebuilds numpy arrays (a pickle naming anything else is refused before it runs), its sha256
is checked, and it is looked for under ``--data-dir`` (DIR or DIR/seqgan/) or downloaded from the
original repository on request. Without it, a seeded N(0, 1) oracle of the same shapes (as
``target_lstm.py`` ``init_matrix`` draws one) stands in; :attr:`Oracle.name` says which was used.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import shutil
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np

from benchmark.data.base import DatasetSpec
from benchmark.errors import UserError
from models.seqgan import lstm

FILE_NAME = "target_params_py3.pkl"
SHA256 = "5ac794a695dd6e0eb2bb689f3dfda55e4e0053e8c0399e6242630a95f1e60e8a"
URL = f"https://raw.githubusercontent.com/LantaoYu/SeqGAN/master/save/{FILE_NAME}"
VOCAB, EMB, HIDDEN, LENGTH = 5000, 32, 32, 20  # sequence_gan.py: vocab_size, EMB_DIM, ...
ORIGINAL = "seqgan_original"
SEEDED_SEED = 66  # target_lstm.py tf.set_random_seed(66)
N_TRAIN = 10_000  # sequence_gan.py generated_num
N_TEST = 10_000  # held out (not in the original; for NLL-test)


@dataclass(frozen=True)
class Oracle:
    """The oracle's parameters (PARAM_ORDER dict), its name in the rows and where it came from."""

    params: dict[str, np.ndarray]
    name: str  # "seqgan_original" or "seeded_normal_<seed>"
    source: str  # the file read, or "seeded"
    sha256: str | None = None


try:  # the one global an array pickle names: numpy's array reconstruction
    from numpy._core.multiarray import _reconstruct as _RECONSTRUCT  # numpy >= 2
except ImportError:  # pragma: no cover - numpy 1
    from numpy.core.multiarray import _reconstruct as _RECONSTRUCT


class Refused(pickle.UnpicklingError):
    """A pickle named a global other than numpy's array reconstruction."""


class ArrayUnpickler(pickle.Unpickler):
    """Rebuilds numpy arrays and lists; any other global a pickle names is refused, unrun."""

    def find_class(self, module: str, name: str):
        if (module, name) in {("numpy.core.multiarray", "_reconstruct"),
                              ("numpy._core.multiarray", "_reconstruct")}:
            return _RECONSTRUCT
        if module == "numpy" and name in ("ndarray", "dtype"):
            return getattr(np, name)
        raise Refused(f"it names {module}.{name}, not a numpy array")


def parse_params(data: bytes, label: str = FILE_NAME,
                 expected_sha256: str | None = SHA256) -> dict[str, np.ndarray]:
    """The oracle's arrays from the pickle's bytes, after the checksum, the restricted
    unpickling and the shape checks; each failure is one line naming the fix."""
    digest = hashlib.sha256(data).hexdigest()
    if expected_sha256 is not None and digest != expected_sha256:
        raise UserError(f"{label}: sha256 {digest} is not the original's {expected_sha256}; "
                        f"download it again from {URL}")
    try:
        arrays = ArrayUnpickler(io.BytesIO(data)).load()
    except Refused as err:
        raise UserError(f"{label}: refused to unpickle, {err}; use the original {FILE_NAME}") \
            from None
    except Exception as err:  # truncated or not a pickle at all
        raise UserError(f"{label}: not a readable pickle ({type(err).__name__}); "
                        f"download it again from {URL}") from None
    shapes = lstm.param_shapes(VOCAB, EMB, HIDDEN)
    expected = [shapes[name] for name in lstm.PARAM_ORDER]
    found = [tuple(getattr(a, "shape", ())) for a in arrays] if isinstance(arrays, list) else None
    if found != expected or not all(isinstance(a, np.ndarray) for a in arrays):
        raise UserError(f"{label}: expected a list of 15 arrays of shapes {expected}, found "
                        f"{found if found is not None else type(arrays).__name__}; "
                        f"use the original {FILE_NAME}")
    return {name: np.asarray(a, np.float32)
            for name, a in zip(lstm.PARAM_ORDER, arrays, strict=True)}


def locate(data_dir: Path) -> Path | None:
    """The oracle file in DIR or DIR/seqgan/, or None."""
    for candidate in (data_dir / FILE_NAME, data_dir / "seqgan" / FILE_NAME):
        if candidate.is_file():
            return candidate
    return None


def download(dest_dir: Path, urlopen: Callable | None = None, timeout: float = 30.0) -> Path:
    """Fetch the original oracle file into dest_dir/seqgan/, checked before it is kept."""
    target = dest_dir / "seqgan" / FILE_NAME
    try:
        with (urlopen or urllib.request.urlopen)(URL, timeout=timeout) as response:
            data = response.read()
    except OSError as err:
        raise UserError(f"could not download {URL} ({err}); put {FILE_NAME} in --data-dir "
                        "DIR or DIR/seqgan/") from None
    parse_params(data, label=URL)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_bytes(data)
    shutil.move(partial, target)
    return target


def read_oracle(path: Path) -> Oracle:
    data = path.read_bytes()
    params = parse_params(data, label=str(path))
    return Oracle(params, ORIGINAL, str(path), hashlib.sha256(data).hexdigest())


def seeded_oracle(seed: int = SEEDED_SEED) -> Oracle:
    """A fresh N(0, 1) oracle of the original's shapes (``target_lstm.py`` ``init_matrix``)."""
    params = lstm.init_lstm(jax.random.PRNGKey(seed), VOCAB, EMB, HIDDEN, stddev=1.0)
    return Oracle({k: np.asarray(v) for k, v in params.items()}, f"seeded_normal_{seed}", "seeded")


def load_oracle(data_dir: Path | None = None, fetch: bool = False,
                seed: int = SEEDED_SEED) -> Oracle:
    """The original oracle from ``data_dir`` (downloaded there first when ``fetch``), else the
    seeded stand-in."""
    if data_dir is not None:
        found = locate(Path(data_dir))
        if found is None and fetch:
            found = download(Path(data_dir))
        if found is not None:
            return read_oracle(found)
    return seeded_oracle(seed)


def _load_refused(data_dir=None, **kwargs):
    """The oracle's sequences are not images: the sequence runner draws them for its schedule
    (``benchmark.runner.sequences.draw_corpus``)."""
    raise UserError("data set 'oracle' holds token sequences, not images; train on it with "
                    "`python -m benchmark sweep --study seqgan` (models mle, seqgan)")


ORACLE = DatasetSpec(
    name="oracle",
    title="SeqGAN oracle",
    image_shape=(LENGTH,),  # one sequence of token ids (the smoke schedule draws shorter ones)
    # the step axis of its rows: MLE epochs, then adversarial batches (PAPER: 120 + 200)
    train_steps=320,
    eval_every=5,
    load=_load_refused,
    splits={"train": N_TRAIN, "test": N_TEST},
    fid_reference_split=None,  # scored with NLL-oracle and NLL-test (metrics/nll_oracle.py)
    sources=("generated",),
    description=("SeqGAN's synthetic data: sequences of 20 tokens (vocabulary 5,000) drawn from "
                 "the original oracle LSTM (--data-dir) or a seeded stand-in; "
                 "docs/protocol.md §11.1"),
    offers=frozenset({"sequences"}),
)
