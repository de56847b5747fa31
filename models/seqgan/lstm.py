"""The LSTM language model of SeqGAN's oracle and generator, as pure functions of a params dict.

docs/protocol.md §11.1: the gate layout of LantaoYu/SeqGAN ``target_lstm.py`` and
``generator.py`` (``create_recurrent_unit``, ``create_output_unit``): separate input, forget,
output and cell weights ``x @ W + h @ U + b``; logits ``h @ Wo + bo``; the first input is the
embedding of start token 0 with h0 = c0 = 0, and the start token is not part of the sequence.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

LSTMParams = dict[str, jax.Array]

# The 15 arrays in the order of the original's parameter list (target_params_py3.pkl).
PARAM_ORDER: tuple[str, ...] = (
    "emb", "Wi", "Ui", "bi", "Wf", "Uf", "bf", "Wog", "Uog", "bog", "Wc", "Uc", "bc", "Wo", "bo",
)
START_TOKEN = 0


def param_shapes(vocab: int, emb: int, hidden: int) -> dict[str, tuple[int, ...]]:
    """The shape of each array of an LSTM over ``vocab`` tokens."""
    shapes: dict[str, tuple[int, ...]] = {"emb": (vocab, emb)}
    for gate in ("i", "f", "og", "c"):
        shapes |= {f"W{gate}": (emb, hidden), f"U{gate}": (hidden, hidden), f"b{gate}": (hidden,)}
    return shapes | {"Wo": (hidden, vocab), "bo": (vocab,)}


def init_lstm(key: jax.Array, vocab: int = 5000, emb: int = 32, hidden: int = 32,
              stddev: float = 0.1) -> LSTMParams:
    """Every array N(0, stddev^2), biases included: 0.1 for the generator (``generator.py``
    ``init_matrix``), 1.0 for a fresh oracle (``target_lstm.py`` ``init_matrix``)."""
    shapes = param_shapes(vocab, emb, hidden)
    keys = jax.random.split(key, len(PARAM_ORDER))
    return {name: stddev * jax.random.normal(k, shapes[name])
            for name, k in zip(PARAM_ORDER, keys, strict=True)}


def lstm_from_list(arrays) -> LSTMParams:
    """The params dict of the original's 15-array list (PARAM_ORDER)."""
    return {name: jnp.asarray(a) for name, a in zip(PARAM_ORDER, arrays, strict=True)}


def lstm_to_list(params: LSTMParams) -> list[jax.Array]:
    return [params[name] for name in PARAM_ORDER]


def cell(params: LSTMParams, x: jax.Array, state: tuple[jax.Array, jax.Array]):
    """One step of the original's recurrent unit: embedded input x (B, E), state (h, c)."""
    h, c = state

    def gate(name: str) -> jax.Array:
        return x @ params[f"W{name}"] + h @ params[f"U{name}"] + params[f"b{name}"]

    i = jax.nn.sigmoid(gate("i"))
    f = jax.nn.sigmoid(gate("f"))
    o = jax.nn.sigmoid(gate("og"))
    c_new = f * c + i * jnp.tanh(gate("c"))
    h_new = o * jnp.tanh(c_new)
    return h_new, c_new


def _zero_state(params: LSTMParams, batch: int):
    hidden = params["Ui"].shape[0]
    zeros = jnp.zeros((batch, hidden), params["Ui"].dtype)
    return zeros, zeros


def _inputs(tokens: jax.Array) -> jax.Array:
    """The input tokens of each step: the start token, then the sequence shifted right."""
    start = jnp.full((tokens.shape[0], 1), START_TOKEN, tokens.dtype)
    return jnp.concatenate([start, tokens[:, :-1]], axis=1)


def teacher_forced_logits(params: LSTMParams, tokens: jax.Array) -> jax.Array:
    """Logits (B, T, V) of each token given the true prefix (the pretraining recurrence)."""

    def step(state, x_t):
        state = cell(params, params["emb"][x_t], state)
        return state, state[0] @ params["Wo"] + params["bo"]

    _, logits = jax.lax.scan(step, _zero_state(params, tokens.shape[0]), _inputs(tokens).T)
    return jnp.swapaxes(logits, 0, 1)


def token_log_probs(params: LSTMParams, tokens: jax.Array) -> jax.Array:
    """log p(x_t | x_<t) (B, T) under the model, one step at a time (no (B, T, V) array)."""

    def step(state, xs):
        x_in, x_out = xs
        state = cell(params, params["emb"][x_in], state)
        logits = state[0] @ params["Wo"] + params["bo"]
        log_norm = jax.nn.logsumexp(logits, axis=-1)
        return state, jnp.take_along_axis(logits, x_out[:, None], axis=-1)[:, 0] - log_norm

    _, logp = jax.lax.scan(step, _zero_state(params, tokens.shape[0]),
                           (_inputs(tokens).T, tokens.T))
    return logp.T


def categorical(key: jax.Array, logits: jax.Array) -> jax.Array:
    """One draw per row of softmax(logits) (B, V) by inverting the cumulative distribution:
    one uniform number a row instead of V Gumbel numbers (several times faster on CPU)."""
    cdf = jnp.cumsum(jax.nn.softmax(logits, axis=-1), axis=-1)
    u = jax.random.uniform(key, (logits.shape[0], 1), cdf.dtype) * cdf[:, -1:]
    return jnp.minimum(jnp.sum(cdf <= u, axis=-1), logits.shape[-1] - 1)


def rollout(params: LSTMParams, key: jax.Array, tokens: jax.Array, given: jax.Array) -> jax.Array:
    """Keep the first ``given`` tokens of each row and sample the rest (``rollout.py``'s
    Monte-Carlo search); ``given`` is (B,) or a scalar, 0 samples whole sequences."""
    batch, length = tokens.shape
    given = jnp.broadcast_to(given, (batch,))
    keys = jax.random.split(key, length)

    def step(carry, xs):
        state, x_in = carry
        t, k, x_true = xs
        state = cell(params, params["emb"][x_in], state)
        logits = state[0] @ params["Wo"] + params["bo"]
        drawn = categorical(k, logits).astype(tokens.dtype)
        x_t = jnp.where(t < given, x_true, drawn)
        return (state, x_t), x_t

    start = jnp.full((batch,), START_TOKEN, tokens.dtype)
    _, out = jax.lax.scan(step, (_zero_state(params, batch), start),
                          (jnp.arange(length), keys, tokens.T))
    return out.T


def sample(params: LSTMParams, key: jax.Array, n: int, length: int = 20) -> jax.Array:
    """n sequences (n, length) int32 drawn from the model (``generate``)."""
    return rollout(params, key, jnp.zeros((n, length), jnp.int32), jnp.int32(0))


def sample_many(params: LSTMParams, key: jax.Array, n: int, length: int = 20,
                chunk: int = 1000) -> jax.Array:
    """n sequences drawn ``chunk`` at a time (bounded memory: chunk x vocab logits a step);
    n is rounded up to whole chunks and cut back."""
    chunks = -(-n // chunk)
    keys = jax.random.split(key, chunks)
    drawn = jax.lax.map(lambda k: sample(params, k, chunk, length), keys)
    return drawn.reshape(-1, length)[:n]


def mean_log_prob(params: LSTMParams, tokens: jax.Array, chunk: int = 1000) -> jax.Array:
    """Mean log p(x_t | x_<t) over all tokens of ``tokens`` (N, T), ``chunk`` rows at a time."""
    n, length = tokens.shape
    chunk = min(chunk, n)
    pad = -n % chunk
    padded = jnp.concatenate([tokens, jnp.zeros((pad, length), tokens.dtype)])
    per_row = jax.lax.map(lambda x: token_log_probs(params, x).sum(axis=1),
                          padded.reshape(-1, chunk, length)).reshape(-1)[:n]
    return per_row.sum() / (n * length)
