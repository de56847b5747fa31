"""A picture of what the precision/recall threshold delta means: images at increasing
distance from the triangle manifold (docs/protocol.md §8.3).

Generator triangles are damaged in five ways (moved off the centre, shrunk, blurred, noised,
blended with another triangle); each damaged image's distance to the manifold is measured with
:func:`metrics.triangle_manifold.distance_to_manifold`, and for every distance level the image
of each kind whose distance is closest to it is shown. The column at the default delta is
marked. ``python -m reports.delta_scale [out.png]`` redraws docs/delta_scale.png.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy import ndimage

from metrics import triangles
from metrics.precision_recall import DEFAULT_DELTA
from metrics.triangle_manifold import distance_to_manifold

LEVELS = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
KINDS = ("moved", "shrunk", "blurred", "noise", "blend of two")


def damaged_triangles(n: int, seed: int) -> dict[str, np.ndarray]:
    """``n`` triangles per kind of damage, float32 [n, 28, 28], with damage of random size."""
    rng = np.random.default_rng(seed)
    offsets, rotation, _ = triangles.draw_parameters(2 * n, seed=seed + 1)
    v = triangles.vertices(offsets, rotation)[:n]
    clean = triangles.render(offsets, rotation)[..., 0].astype(np.float32) / triangles.LEVELS
    angle = rng.uniform(0, 2 * np.pi, n)
    shift = rng.uniform(0, 1.5, n)[:, None] * np.stack([np.cos(angle), np.sin(angle)], 1)
    centre = v.mean(axis=1, keepdims=True)
    factor = rng.uniform(0.6, 1.0, n)[:, None, None]
    sigma = rng.uniform(0, 1.6, n)
    noise_sd = rng.uniform(0, 0.25, n)[:, None, None]
    weight = rng.uniform(0, 0.5, n)[:, None, None]
    as_float = lambda counts: counts.astype(np.float32) / triangles.LEVELS  # noqa: E731
    return {
        "moved": as_float(triangles._rasterise(v + shift[:, None, :])),
        "shrunk": as_float(triangles._rasterise(centre + factor * (v - centre))),
        "blurred": np.stack(
            [
                ndimage.gaussian_filter(img, s, mode="constant", cval=1.0)
                for img, s in zip(clean[:n], sigma, strict=True)
            ]
        ),
        "noise": np.clip(clean[:n] + noise_sd * rng.normal(size=clean[:n].shape), 0, 1),
        "blend of two": (1 - weight) * clean[:n] + weight * clean[n:],
    }


def delta_scale_figure(*, n: int = 300, seed: int = 0) -> Figure:
    """Measure damaged triangles and draw the grid (rows: kinds; columns: distance levels)."""
    images = damaged_triangles(n, seed)
    fig = Figure(figsize=(1.35 * len(LEVELS), 1.5 * len(KINDS) + 0.6))
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(KINDS), len(LEVELS))
    for row, kind in enumerate(KINDS):
        batch = images[kind].astype(np.float32)
        d = distance_to_manifold(batch[..., None])
        for col, level in enumerate(LEVELS):
            ax = axes[row, col]
            i = int(np.argmin(np.abs(np.log2((d + 0.05) / (level + 0.05)))))
            ax.imshow(batch[i], cmap="gray", vmin=0, vmax=1)
            inside = d[i] <= DEFAULT_DELTA
            ax.set_title(f"d={d[i]:.3g}", fontsize=8, color="black" if inside else "firebrick")
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(kind, fontsize=9)
            if level == DEFAULT_DELTA:
                for spine in ax.spines.values():
                    spine.set_color("royalblue")
                    spine.set_linewidth(2.5)
    fig.suptitle(
        "Squared L2 distance to the triangle manifold "
        f"(blue: default delta = {DEFAULT_DELTA:g}; red: outside)",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


if __name__ == "__main__":  # docs/fidelity.md's picture: python -m reports.delta_scale [PATH]
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/delta_scale.png")
    delta_scale_figure().savefig(target, dpi=110)
    print(target)
