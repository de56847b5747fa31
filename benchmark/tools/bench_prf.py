"""Benchmark: seconds to score one generator with precision, recall and F1 (docs/speed.md).

``python -m benchmark bench-prf [--n 100,250,1000] [--variables G.pkl]`` times
:func:`metrics.precision_recall.evaluate_generators` for one InfoGAN generator on the
triangles: a randomly initialised one, or the pickled flax variables of a trained one. The
first call at every N includes compilation and is reported apart (the engine pays it once per
process and shape). The target is N = 1000 in <= 60 s on 2 CPU cores.
"""

from __future__ import annotations

import pickle
import time

import jax
import jax.numpy as jnp
import numpy as np

from benchmark.data import triangles
from benchmark.errors import OneLineParser, positive_ints
from metrics import precision_recall as prf
from metrics import triangle_manifold
from models.architectures.infogan import Generator


def _generator(path: str | None):
    g = Generator(image_shape=(28, 28, 1))
    if path:
        with open(path, "rb") as f:
            variables = pickle.load(f)
    else:
        variables = g.init(jax.random.PRNGKey(0), jnp.zeros((2, 64)), train=False)

    def apply_fn(v, z):
        return g.apply(v, z, train=False)

    return apply_fn, variables


def main(argv: list[str] | None = None) -> None:
    parser = OneLineParser(prog="python -m benchmark bench-prf",
                           description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=positive_ints, default=[100, 250, 1000],
                        help="comma-separated sample counts N")
    parser.add_argument("--variables", default=None, help="pickled G variables (default: random)")
    parser.add_argument("--repeats", type=int, default=1, help="timed calls after the first")
    args = parser.parse_args(argv)

    t = time.perf_counter()
    dataset = triangles.load_triangles()
    test_images = dataset.as_float(dataset.test)
    triangle_manifold.pool()
    print(f"data set and manifold pool ready in {time.perf_counter() - t:.1f} s")
    apply_fn, variables = _generator(args.variables)
    batched = jax.tree_util.tree_map(lambda a: jnp.asarray(a)[None], variables)
    print(f"backend {jax.default_backend()}, devices {jax.device_count()}")
    print("N      first call (s)  warm call (s)  precision  recall  f1")
    for n in args.n:
        times = []
        for _ in range(1 + args.repeats):
            t = time.perf_counter()
            out = prf.evaluate_generators(
                apply_fn,
                batched,
                z_dim=64,
                prior="uniform",
                test_images=test_images,
                key=jax.random.PRNGKey(0),
                num_samples=n,
            )
            times.append(time.perf_counter() - t)
        warm = np.mean(times[1:]) if len(times) > 1 else float("nan")
        print(
            f"{n:<6d} {times[0]:14.1f} {warm:14.1f}  {out['precision'][0]:9.3f} "
            f"{out['recall'][0]:7.3f} {out['f1'][0]:5.3f}",
            flush=True,
        )

