"""Test helpers: a pytorch-fid Inception with random weights, saved as the published file name.

The network is built by pytorch-fid's own ``fid_inception_v3`` (its download is skipped by
making torchvision's ``load_state_dict`` a no-op for that one call), given random batch-norm
affine parameters, and its running statistics are calibrated on random images so that
activations keep a sane scale through all 94 convs. The state dict is saved with
``torch.save`` under ``$TORCH_HOME/hub/checkpoints/``, where pytorch-fid's own loader finds it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import numpy as np

from metrics.inception_weights import WEIGHTS_FILENAME
from tests.conftest import SHARED_DATA

MNIST_DIR = SHARED_DATA / "mnist"


@contextlib.contextmanager
def torch_home(path: Path):
    old = os.environ.get("TORCH_HOME")
    os.environ["TORCH_HOME"] = str(path)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("TORCH_HOME", None)
        else:
            os.environ["TORCH_HOME"] = old


def save_random_fid_inception(directory: Path, seed: int = 0, legacy: bool = False) -> Path:
    """Random-weight FID Inception saved as ``<directory>/hub/checkpoints/<published name>``."""
    import pytorch_fid.inception as pfi
    import torch
    import torchvision

    torch.manual_seed(seed)
    original = torchvision.models.inception.Inception3.load_state_dict
    torchvision.models.inception.Inception3.load_state_dict = lambda self, *a, **k: None
    real_loader = pfi.load_state_dict_from_url
    pfi.load_state_dict_from_url = lambda *a, **k: None
    try:
        net = pfi.fid_inception_v3()
    finally:
        torchvision.models.inception.Inception3.load_state_dict = original
        pfi.load_state_dict_from_url = real_loader
    generator = torch.Generator().manual_seed(seed)
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            with torch.no_grad():
                module.weight.uniform_(0.5, 1.5, generator=generator)
                module.bias.normal_(0.0, 0.1, generator=generator)
            module.reset_running_stats()
            module.momentum = None  # cumulative average: one pass sets the statistics
    net.train()
    with torch.no_grad():
        x = torch.rand(4, 3, 299, 299, generator=generator) * 2 - 1
        for name, child in net.named_children():
            if name in ("AuxLogits", "avgpool", "dropout", "fc"):
                continue
            x = child(x)
    net.eval()
    path = directory / "hub" / "checkpoints" / WEIGHTS_FILENAME
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), path, _use_new_zipfile_serialization=not legacy)
    return path


class PytorchFid:
    """pytorch-fid's InceptionV3 (both input paths) and its fc layer, all loading
    ``<directory>/hub/checkpoints/<published name>`` through pytorch-fid's own code."""

    def __init__(self, directory: Path):
        import pytorch_fid.inception as pfi

        with torch_home(directory):
            self.resizing = pfi.InceptionV3([3], resize_input=True, normalize_input=True).eval()
            self.plain = pfi.InceptionV3([3], resize_input=False, normalize_input=False).eval()
            self.fc = pfi.fid_inception_v3().eval().fc

    def __call__(self, images_nhwc: np.ndarray, resize: bool) -> tuple[np.ndarray, np.ndarray]:
        """pool_3 [N, 2048] and logits [N, 1008]. ``resize``: pytorch-fid's own resize and
        normalisation of [0, 1] inputs; else the inputs are already 299x299 in [-1, 1]."""
        import torch

        x = torch.from_numpy(np.ascontiguousarray(np.transpose(images_nhwc, (0, 3, 1, 2))))
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        with torch.no_grad():
            model = self.resizing if resize else self.plain
            pool = model(x)[0][:, :, 0, 0]
            logits = self.fc(pool)
        return pool.numpy(), logits.numpy()


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max |b|: one number per comparison."""
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))
