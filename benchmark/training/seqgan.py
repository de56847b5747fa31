"""SeqGAN and its MLE baseline as pure functions of (key, hyperparameters), vmappable over runs.

docs/protocol.md §11.3, after LantaoYu/SeqGAN ``sequence_gan.py`` ``main``: the generator is
pretrained by maximum likelihood (teacher forcing), the discriminator is pretrained on the oracle's
sequences against the generator's, then each adversarial batch takes one REINFORCE step of the
generator with per-token rewards from Monte-Carlo rollouts through a delayed copy of it
(``rollout.py``), then trains the discriminator again. The MLE baseline is the pretrained
generator. Every phase is a pure function; the chunk functions (:func:`start_chunk`,
:func:`pre_chunk`, :func:`d_chunk`, :func:`adv_chunk`, :func:`end_chunk`) cut a run at the
original's evaluation points, and :func:`make_train` scans them into one
``train(key, hparams, oracle, data)`` in the manner of purejaxrl, whose learning curves are the
NLL-oracle at those points. The runner (``benchmark.runner.sequences``) calls the chunks one
compiled program at a time, checkpointing between them.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from metrics import nll_oracle as nll
from models.seqgan import discriminator as dmod
from models.seqgan import lstm

# generator.py: tf.clip_by_value(p, 1e-20, 1.0) before log; float32's log, in numpy: a jnp op at
# import would start JAX's backend (and its threads) in every process that imports the runner
LOG_FLOOR = float(np.log(np.float32(1e-20)))


@dataclasses.dataclass(frozen=True)
class Schedule:
    """What changes the compiled program: sizes and counts (docs/protocol.md §11.3)."""

    vocab: int = 5000
    length: int = 20  # SEQ_LENGTH
    emb: int = 32  # EMB_DIM
    hidden: int = 32  # HIDDEN_DIM
    batch: int = 64  # BATCH_SIZE, dis_batch_size
    pretrain_epochs: int = 120  # PRE_EPOCH_NUM
    d_pretrain_rounds: int = 50  # "Train 3 epoch on the generated data and do this for 50 times"
    d_epochs: int = 3  # epochs over one round's data
    adversarial_batches: int = 200  # TOTAL_BATCH
    d_rounds: int = 5  # discriminator rounds after each adversarial batch
    rollouts: int = 16  # rollout.get_reward(sess, samples, 16, discriminator)
    negatives: int = 10_000  # generated_num: samples per discriminator round
    eval_every: int = 5  # "epoch % 5 == 0" and "total_batch % 5 == 0"
    eval_samples: int = 10_000  # generated_num for target_loss
    d_embedding: int = 64  # dis_embedding_dim
    filter_sizes: tuple[int, ...] = dmod.FILTER_SIZES
    num_filters: tuple[int, ...] = dmod.NUM_FILTERS
    chunk: int = 1000  # rows sampled/scored at once (memory bound, not a protocol fact)

    def discriminator(self) -> dmod.SequenceDiscriminator:
        return dmod.SequenceDiscriminator(self.vocab, self.d_embedding, self.filter_sizes,
                                          self.num_filters)

    def whole(self, n: int) -> int:
        """generate_samples writes int(n / batch) whole batches: 10,000 -> 9,984 rows."""
        return (n // self.batch) * self.batch


PAPER = Schedule()
# CPU preview: the original's networks and rates, a fraction of its counts and a narrower D.
PREVIEW = Schedule(pretrain_epochs=20, d_pretrain_rounds=3, d_epochs=1, adversarial_batches=20,
                   d_rounds=1, rollouts=4, negatives=1024, eval_every=5, eval_samples=2000,
                   num_filters=tuple(max(1, n // 10) for n in dmod.NUM_FILTERS))
SMOKE = Schedule(vocab=50, length=8, emb=8, hidden=8, batch=8, pretrain_epochs=2,
                 d_pretrain_rounds=1, d_epochs=1, adversarial_batches=2, d_rounds=1, rollouts=2,
                 negatives=32, eval_every=1, eval_samples=64, d_embedding=8,
                 filter_sizes=(1, 2, 8), num_filters=(4, 4, 4), chunk=32)

# The schedule each profile of the ``seqgan`` study stands for (sweeps/studies.py; trained by
# benchmark.runner.sequences).
SCHEDULES = {"paper": PAPER, "preview": PREVIEW, "smoke": SMOKE}

HPARAMS = {  # traced per run; the original's values
    "g_lr": 0.01,  # generator.py learning_rate (Adam, pretraining and adversarial)
    "g_beta1": 0.9,  # tf.train.AdamOptimizer's default beta1
    "d_lr": 1e-4,  # discriminator.py tf.train.AdamOptimizer(1e-4)
    "grad_clip": 5.0,  # generator.py grad_clip (global norm)
    "l2": 0.2,  # dis_l2_reg_lambda
    "rollout_update": 0.8,  # ROLLOUT(generator, 0.8)
    "dropout_keep": 0.75,  # dis_dropout_keep_prob
}


class State(NamedTuple):
    """One run: generator, its two Adam states (pretraining, adversarial: two optimisers in
    generator.py), discriminator and its Adam state, and the rollout copy of the generator."""

    g: Any
    g_pre_opt: Any
    g_adv_opt: Any
    d: Any
    d_opt: Any
    roll: Any


def _g_opt(hp) -> optax.GradientTransformation:
    return optax.chain(optax.clip_by_global_norm(hp["grad_clip"]),
                       optax.adam(hp["g_lr"], b1=hp.get("g_beta1", 0.9)))


def _d_opt(hp) -> optax.GradientTransformation:
    return optax.adam(hp["d_lr"])


def init_state(key: jax.Array, sched: Schedule, hp=HPARAMS) -> State:
    """A fresh run: G as generator.py initialises it (N(0, 0.1^2)), D as discriminator.py."""
    kg, kd = jax.random.split(key)
    g = lstm.init_lstm(kg, sched.vocab, sched.emb, sched.hidden, stddev=0.1)
    d = sched.discriminator().init(kd, jnp.zeros((1, sched.length), jnp.int32))["params"]
    return State(g, _g_opt(hp).init(g), _g_opt(hp).init(g), d, _d_opt(hp).init(d), g)


# --- maximum likelihood -------------------------------------------------------------------


def mle_loss(g, tokens: jax.Array) -> jax.Array:
    """generator.py pretrain_loss: mean per-token NLL, probabilities floored at 1e-20."""
    return -jnp.maximum(lstm.token_log_probs(g, tokens), LOG_FLOOR).mean()


def mle_epoch(state: State, train: jax.Array, hp, sched: Schedule) -> tuple[State, jax.Array]:
    """One pretraining epoch: whole batches in file order (Gen_Data_loader does not shuffle)."""
    batches = train[: sched.whole(train.shape[0])].reshape(-1, sched.batch, train.shape[1])

    def step(carry, tokens):
        g, opt = carry
        loss, grads = jax.value_and_grad(mle_loss)(g, tokens)
        updates, opt = _g_opt(hp).update(grads, opt, g)
        return (optax.apply_updates(g, updates), opt), loss

    (g, opt), losses = jax.lax.scan(step, (state.g, state.g_pre_opt), batches)
    return state._replace(g=g, g_pre_opt=opt), losses.mean()


# --- discriminator ------------------------------------------------------------------------


def d_prob_real(d, tokens: jax.Array, sched: Schedule) -> jax.Array:
    """ypred_for_auc[:, 1] with dropout off: D's probability that each sequence is real."""
    return jax.nn.softmax(sched.discriminator().apply({"params": d}, tokens))[:, 1]


def d_loss(d, tokens, labels, key, hp, sched: Schedule) -> jax.Array:
    """discriminator.py loss: softmax cross-entropy + l2 * l2_loss(output W, b)."""
    logits = _dropout_logits(d, tokens, key, hp["dropout_keep"], sched)
    ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    return ce + hp["l2"] * dmod.output_l2(d)


def _dropout_logits(d, tokens, key, keep, sched: Schedule) -> jax.Array:
    """D's logits with inverted dropout (keep probability ``keep``) before the output layer."""
    features = sched.discriminator().apply({"params": d}, tokens, features=True)
    mask = jax.random.bernoulli(key, keep, features.shape)
    dropped = jnp.where(mask, features / keep, 0.0)
    out = d["output"]
    return dropped @ out["kernel"] + out["bias"]


def d_round(state: State, key: jax.Array, train: jax.Array, hp, sched: Schedule) -> State:
    """One discriminator round: fresh negatives from G, the oracle's sequences as positives,
    shuffled once into whole batches, then ``d_epochs`` passes (Dis_dataloader)."""
    k_neg, k_perm, k_drop = jax.random.split(key, 3)
    negatives = lstm.sample_many(state.g, k_neg, sched.whole(sched.negatives), sched.length,
                                 min(sched.chunk, sched.whole(sched.negatives)))
    tokens = jnp.concatenate([train, negatives])
    labels = jnp.concatenate([jnp.ones(train.shape[0], jnp.int32),
                              jnp.zeros(negatives.shape[0], jnp.int32)])
    order = jax.random.permutation(k_perm, tokens.shape[0])[: sched.whole(tokens.shape[0])]
    xb = tokens[order].reshape(-1, sched.batch, sched.length)
    yb = labels[order].reshape(-1, sched.batch)
    steps = sched.d_epochs * xb.shape[0]
    index = jnp.arange(steps) % xb.shape[0]

    def step(carry, xs):
        d, opt = carry
        i, k = xs
        grads = jax.grad(d_loss)(d, xb[i], yb[i], k, hp, sched)
        updates, opt = _d_opt(hp).update(grads, opt, d)
        return (optax.apply_updates(d, updates), opt), None

    (d, opt), _ = jax.lax.scan(step, (state.d, state.d_opt),
                               (index, jax.random.split(k_drop, steps)))
    return state._replace(d=d, d_opt=opt)


# --- adversarial --------------------------------------------------------------------------


def rewards(roll, d, key: jax.Array, tokens: jax.Array, sched: Schedule) -> jax.Array:
    """rollout.py get_reward: reward (B, T) of token t is the mean over ``rollouts`` completions
    by the rollout network of the first t+1 tokens, scored by D; the last is D(tokens)."""
    batch, length = tokens.shape
    given = jnp.repeat(jnp.arange(1, length), batch)  # lanes: (T - 1) prefixes x B
    prefixes = jnp.tile(tokens, (length - 1, 1))

    def one(k):
        completed = lstm.rollout(roll, k, prefixes, given)
        return d_prob_real(d, completed, sched).reshape(length - 1, batch)

    partial = jax.lax.map(one, jax.random.split(key, sched.rollouts)).mean(axis=0)
    return jnp.concatenate([partial, d_prob_real(d, tokens, sched)[None]]).T


def policy_loss(g, tokens: jax.Array, reward: jax.Array) -> jax.Array:
    """generator.py g_loss: -sum over the batch's tokens of log p(token) * reward."""
    return -jnp.sum(jnp.maximum(lstm.token_log_probs(g, tokens), LOG_FLOOR) * reward)


def generator_step(state: State, key: jax.Array, hp, sched: Schedule) -> State:
    """One adversarial generator update on a fresh batch of its own samples."""
    k_sample, k_roll = jax.random.split(key)
    tokens = lstm.sample(state.g, k_sample, sched.batch, sched.length)
    reward = jax.lax.stop_gradient(rewards(state.roll, state.d, k_roll, tokens, sched))
    grads = jax.grad(policy_loss)(state.g, tokens, reward)
    updates, opt = _g_opt(hp).update(grads, state.g_adv_opt, state.g)
    return state._replace(g=optax.apply_updates(state.g, updates), g_adv_opt=opt)


def update_rollout(state: State, hp) -> State:
    """rollout.py update_params: embeddings copied, every other array
    rate * rollout + (1 - rate) * generator."""
    rate = hp["rollout_update"]
    roll = {k: state.g[k] if k == "emb" else rate * state.roll[k] + (1 - rate) * state.g[k]
            for k in state.g}
    return state._replace(roll=roll)


def adversarial_batch(state: State, key: jax.Array, train: jax.Array, hp,
                      sched: Schedule) -> State:
    """One TOTAL_BATCH iteration without its evaluation: G step, rollout update, D rounds."""
    k_g, k_d = jax.random.split(key)
    state = update_rollout(generator_step(state, k_g, hp, sched), hp)
    return jax.lax.fori_loop(
        0, sched.d_rounds,
        lambda i, s: d_round(s, jax.random.fold_in(k_d, i), train, hp, sched), state)


def start_rollout(state: State) -> State:
    """``ROLLOUT(generator, 0.8)``: the rollout network starts as a copy of G where
    sequence_gan.py main builds it, after MLE and D pretraining (docs/protocol.md §11.3)."""
    return state._replace(roll=state.g)


def pretrain_discriminator(state: State, key: jax.Array, train: jax.Array, hp,
                           sched: Schedule) -> State:
    return jax.lax.fori_loop(
        0, sched.d_pretrain_rounds,
        lambda i, s: d_round(s, jax.random.fold_in(key, i), train, hp, sched), state)


def evaluate(g, key: jax.Array, oracle, test: jax.Array, sched: Schedule) -> jax.Array:
    """[NLL-oracle, NLL-test] of one generator (metrics/nll_oracle.py)."""
    n = sched.whole(sched.eval_samples)
    return jnp.stack([nll.nll_oracle(g, oracle, key, n, sched.length, min(sched.chunk, n)),
                      nll.nll_test(g, test, min(sched.chunk, test.shape[0]))])


class Keys(NamedTuple):
    """One run's keys after its initialisation: D pretraining, adversarial batches,
    evaluations (the carry of its RNG stream from one chunk to the next)."""

    d: jax.Array
    adv: jax.Array
    eval: jax.Array


# The chunks of one run's training, cut at the evaluation points of its curves: each is a pure
# function of (keys, state, block index, ...) whose static structure is the schedule's alone,
# so one compiled program serves every chunk of its kind (the runner's resumable loop,
# ``benchmark.runner.sequences``) and :func:`make_train` scans the same functions.


def _evaluate_at(keys: Keys, g, i, oracle, data, sched: Schedule) -> jax.Array:
    return evaluate(g, jax.random.fold_in(keys.eval, i), oracle, data["test"], sched)


def start_chunk(key: jax.Array, hp, oracle, data, sched: Schedule
                ) -> tuple[Keys, State, jax.Array]:
    """A run from its key: its keys, its fresh state and the evaluation before training."""
    k_init, _k_pre, k_d, k_adv, k_eval = jax.random.split(key, 5)
    keys = Keys(k_d, k_adv, k_eval)
    state = init_state(k_init, sched, hp)
    return keys, state, _evaluate_at(keys, state.g, 0, oracle, data, sched)


def pre_chunk(keys: Keys, state: State, i, hp, oracle, data, sched: Schedule
              ) -> tuple[State, jax.Array]:
    """Pretraining block ``i``: ``eval_every`` MLE epochs, evaluated after the first (epoch
    1 + i * eval_every)."""
    state, _ = mle_epoch(state, data["train"], hp, sched)
    point = _evaluate_at(keys, state.g, 1 + i, oracle, data, sched)
    state = jax.lax.fori_loop(
        1, sched.eval_every, lambda _, s: mle_epoch(s, data["train"], hp, sched)[0], state)
    return state, point


def d_chunk(keys: Keys, state: State, hp, data, sched: Schedule) -> State:
    """D's pretraining, then the rollout network as a copy of G (:func:`start_rollout`)."""
    return start_rollout(pretrain_discriminator(state, keys.d, data["train"], hp, sched))


def adv_chunk(keys: Keys, state: State, i, hp, oracle, data, sched: Schedule
              ) -> tuple[State, jax.Array]:
    """Adversarial block ``i``: ``eval_every`` adversarial batches, evaluated after the G step
    of the first."""
    k_g, k_rest = jax.random.split(jax.random.fold_in(keys.adv, i))
    state = generator_step(state, k_g, hp, sched)
    point = _evaluate_at(keys, state.g, 10_000 + i, oracle, data, sched)
    state = update_rollout(state, hp)
    state = jax.lax.fori_loop(
        0, sched.d_rounds,
        lambda j, s: d_round(s, jax.random.fold_in(k_rest, j), data["train"], hp, sched), state)
    state = jax.lax.fori_loop(
        1, sched.eval_every,
        lambda j, s: adversarial_batch(s, jax.random.fold_in(k_rest, 100 + j), data["train"],
                                       hp, sched), state)
    return state, point


def end_chunk(keys: Keys, state: State, oracle, data, sched: Schedule) -> jax.Array:
    """The evaluation of the end's G."""
    return _evaluate_at(keys, state.g, 20_000, oracle, data, sched)


def check_schedule(sched: Schedule) -> None:
    every = sched.eval_every
    if sched.pretrain_epochs % every or sched.adversarial_batches % every:
        raise ValueError(f"pretrain_epochs and adversarial_batches must be multiples of "
                         f"eval_every={every}; change the schedule")


def make_train(sched: Schedule, adversarial: bool = True):
    """``train(key, hparams, oracle, data) -> (state, curves)``, pure and vmappable over
    (key, hparams); curves hold [NLL-oracle, NLL-test] at the original's evaluation points:
    before training, after pretraining epochs 1, 1 + eval_every, ... (``epoch % 5 == 0``),
    after adversarial batches 1, 1 + eval_every, ... (the G step of ``total_batch % 5 == 0``)
    and at the end. ``adversarial=False``: the MLE baseline, pretraining only (no D, no
    adversarial batches; ``curves["adversarial"]`` is empty and "end" follows the last
    epoch). The chunk functions above, scanned: the runner calls the same ones one by one."""
    check_schedule(sched)
    every = sched.eval_every

    def train(key, hp, oracle, data):
        keys, state, start = start_chunk(key, hp, oracle, data, sched)
        state, pre_curve = jax.lax.scan(
            lambda s, i: pre_chunk(keys, s, i, hp, oracle, data, sched), state,
            jnp.arange(sched.pretrain_epochs // every))
        if not adversarial:
            return state, {"start": start, "pretrain": pre_curve,
                           "adversarial": jnp.zeros((0, 2), start.dtype),
                           "end": end_chunk(keys, state, oracle, data, sched)}
        state = d_chunk(keys, state, hp, data, sched)
        state, adv_curve = jax.lax.scan(
            lambda s, i: adv_chunk(keys, s, i, hp, oracle, data, sched), state,
            jnp.arange(sched.adversarial_batches // every))
        return state, {"start": start, "pretrain": pre_curve, "adversarial": adv_curve,
                       "end": end_chunk(keys, state, oracle, data, sched)}

    return train
