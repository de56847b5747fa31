"""NLL-oracle and NLL-test of sequence generators (docs/protocol.md §11.4); lower is better.

NLL-oracle (Yu et al. 2017, §4 "Synthetic Data Experiments"; ``sequence_gan.py`` ``target_loss``):
the oracle's mean per-token negative log-likelihood of N sequences drawn from the generator
(the paper's 10,000; the original code's ``generate_samples`` writes floor(10000/64)*64 = 9,984).
NLL-test: the generator's own mean per-token NLL of held-out oracle samples. Both kernels are
pure, vmappable over runs' generator parameters.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from metrics.base import Metric
from metrics.columns import NLL_ORACLE_COLUMNS, NllOracleSettings
from models.seqgan import lstm

NLL_ORACLE, NLL_TEST = NLL_ORACLE_COLUMNS
COLUMNS = NLL_ORACLE_COLUMNS
SAMPLES = 10_000  # Yu et al. 2017 §4: 10,000 generated sequences


def nll_of(params: lstm.LSTMParams, tokens: jax.Array, chunk: int = 1000) -> jax.Array:
    """Mean per-token NLL of ``tokens`` (N, T) under the LSTM ``params``."""
    return -lstm.mean_log_prob(params, tokens, chunk)


def nll_oracle(generator: lstm.LSTMParams, oracle: lstm.LSTMParams, key: jax.Array,
               n: int = SAMPLES, length: int = 20, chunk: int = 1000) -> jax.Array:
    """NLL-oracle: the oracle's NLL of n sequences sampled from the generator."""
    tokens = lstm.sample_many(generator, key, n, length, min(chunk, n))
    return nll_of(oracle, tokens, chunk)


def nll_test(generator: lstm.LSTMParams, heldout: jax.Array, chunk: int = 1000) -> jax.Array:
    """NLL-test: the generator's NLL of held-out oracle samples."""
    return nll_of(generator, heldout, chunk)


def evaluate(generators: lstm.LSTMParams, oracle: lstm.LSTMParams, heldout: jax.Array,
             key: jax.Array, n: int = SAMPLES, chunk: int = 1000) -> dict[str, jax.Array]:
    """{column: (R,)} for the R runs stacked in ``generators`` (leading axis); each run draws
    from ``fold_in(key, run)``."""
    runs = jax.tree.leaves(generators)[0].shape[0]
    keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(runs))
    length = heldout.shape[1]
    oracle_nll = jax.vmap(lambda g, k: nll_oracle(g, oracle, k, n, length, chunk))(generators, keys)
    test_nll = jax.vmap(lambda g: nll_test(g, heldout, chunk))(generators)
    return {NLL_ORACLE.name: oracle_nll, NLL_TEST.name: test_nll}


def _not_images(generators, context):
    """The image evaluator never calls this: ``applies_to`` is true only for data sets of
    sequences, whose runs the sequence runner scores with :func:`evaluate`'s kernels."""
    raise ValueError(f"NLL-oracle scores LSTM generators of token sequences, not images "
                     f"({context.dataset}); benchmark.runner.sequences computes it")


METRIC = Metric(
    name="nll_oracle",
    columns=COLUMNS,
    applies_to=lambda spec: "sequences" in spec.offers,
    evaluate=_not_images,
    description="NLL-oracle and NLL-test of sequence generators (docs/protocol.md §11.4)",
    settings=NllOracleSettings(),
    seconds=lambda settings: 1.0,
)
