"""SeqGAN on its oracle: known answers for the LSTM, NLL-oracle, rollout rewards, and the
oracle file's checks (docs/protocol.md §11)."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from benchmark.data import oracle as oracle_data
from benchmark.errors import UserError
from benchmark.training import seqgan as sg
from metrics import nll_oracle as nll
from models.seqgan import lstm
from tests.conftest import SHARED_DATA

ORACLE_FILE = SHARED_DATA / "seqgan" / oracle_data.FILE_NAME
S = sg.SMOKE  # vocab 50, length 8


def small_oracle(seed: int = 66) -> dict:
    return lstm.init_lstm(jax.random.PRNGKey(seed), S.vocab, S.emb, S.hidden, stddev=1.0)


def numpy_log_likelihood(params: dict, tokens: np.ndarray) -> np.ndarray:
    """log p(x_t | x_<t) (B, T), written from target_lstm.py step by step in float64."""
    p = {k: np.asarray(v, np.float64) for k, v in params.items()}
    sigmoid = lambda a: 1.0 / (1.0 + np.exp(-a))  # noqa: E731
    batch, length = tokens.shape
    h = np.zeros((batch, p["Ui"].shape[0]))
    c = np.zeros_like(h)
    x = p["emb"][np.zeros(batch, int)]  # start token 0
    out = np.zeros((batch, length))
    for t in range(length):
        i = sigmoid(x @ p["Wi"] + h @ p["Ui"] + p["bi"])
        f = sigmoid(x @ p["Wf"] + h @ p["Uf"] + p["bf"])
        o = sigmoid(x @ p["Wog"] + h @ p["Uog"] + p["bog"])
        c = f * c + i * np.tanh(x @ p["Wc"] + h @ p["Uc"] + p["bc"])
        h = o * np.tanh(c)
        logits = h @ p["Wo"] + p["bo"]
        probs = np.exp(logits - logits.max(1, keepdims=True))
        probs /= probs.sum(1, keepdims=True)
        out[:, t] = np.log(probs[np.arange(batch), tokens[:, t]])
        x = p["emb"][tokens[:, t]]
    return out


def test_oracle_log_likelihood_matches_numpy_step_by_step():
    params = small_oracle()
    tokens = np.asarray(lstm.sample(params, jax.random.PRNGKey(0), 16, S.length))
    expected = numpy_log_likelihood(params, tokens)
    np.testing.assert_allclose(lstm.token_log_probs(params, jnp.asarray(tokens)), expected,
                               rtol=1e-4, atol=1e-4)
    teacher = jax.nn.log_softmax(lstm.teacher_forced_logits(params, jnp.asarray(tokens)))
    picked = np.take_along_axis(np.asarray(teacher), tokens[..., None], -1)[..., 0]
    np.testing.assert_allclose(picked, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.skipif(not ORACLE_FILE.is_file(), reason="no copy of target_params_py3.pkl")
def test_original_oracle_file_reads_and_matches_numpy():
    orc = oracle_data.read_oracle(ORACLE_FILE)
    assert orc.name == oracle_data.ORIGINAL and orc.sha256 == oracle_data.SHA256
    assert orc.params["emb"].shape == (5000, 32) and orc.params["Wo"].shape == (32, 5000)
    tokens = np.random.default_rng(0).integers(0, 5000, (4, 20))
    params = {k: jnp.asarray(v) for k, v in orc.params.items()}
    np.testing.assert_allclose(lstm.token_log_probs(params, jnp.asarray(tokens)),
                               numpy_log_likelihood(orc.params, tokens), rtol=1e-4, atol=1e-3)
    assert oracle_data.load_oracle(SHARED_DATA).name == oracle_data.ORIGINAL  # DIR/seqgan/


def test_sampling_matches_the_model_distribution():
    """Inverse-CDF draws have the softmax's frequencies (chi-square-sized tolerance)."""
    logits = jnp.log(jnp.array([0.1, 0.2, 0.0001, 0.6999]))
    draws = lstm.categorical(jax.random.PRNGKey(0), jnp.tile(logits, (200_000, 1)))
    freq = np.bincount(np.asarray(draws), minlength=4) / 200_000
    np.testing.assert_allclose(freq, np.exp(logits), atol=0.004)


def uniform_generator() -> dict:
    """An LSTM whose logits are all zero: every token 1/V at every step."""
    g = lstm.init_lstm(jax.random.PRNGKey(5), S.vocab, S.emb, S.hidden)
    return g | {"Wo": jnp.zeros_like(g["Wo"]), "bo": jnp.zeros_like(g["bo"])}


def per_step_logits(params, tokens):
    return jax.nn.log_softmax(lstm.teacher_forced_logits(params, tokens))


def test_oracle_as_generator_scores_its_entropy_rate_and_beats_uniform():
    oracle = small_oracle()
    n = 20_000
    # NLL-oracle of the oracle's own samples is its entropy rate; estimate the entropy rate
    # independently: the exact entropy of p(. | prefix) at each step, over sampled prefixes.
    own = nll.nll_oracle(oracle, oracle, jax.random.PRNGKey(1), n, S.length, 5000)
    prefixes = lstm.sample_many(oracle, jax.random.PRNGKey(2), n, S.length, 5000)
    logp = per_step_logits(oracle, prefixes)
    entropy_rate = float(-(jnp.exp(logp) * logp).sum(-1).mean())
    assert abs(float(own) - entropy_rate) < 0.03, (own, entropy_rate)
    # Uniform generator: given a prefix, E_token[-log p] = logsumexp(o) - mean(o) exactly;
    # averaged over uniform prefixes. The first step has no prefix: a closed form.
    uniform = nll.nll_oracle(uniform_generator(), oracle, jax.random.PRNGKey(3), n, S.length,
                             5000)
    u_prefixes = jax.random.randint(jax.random.PRNGKey(4), (n, S.length), 0, S.vocab)
    closed = float((-per_step_logits(oracle, u_prefixes).mean(-1)).mean())
    assert abs(float(uniform) - closed) < 0.05, (uniform, closed)
    first_closed = float(-per_step_logits(oracle, u_prefixes[:1])[0, 0].mean())
    first_sampled = float(-lstm.token_log_probs(oracle, u_prefixes)[:, 0].mean())
    assert abs(first_sampled - first_closed) < 0.05
    assert entropy_rate < np.log(S.vocab) < closed  # the oracle beats uniform on its own NLL


def test_rollout_keeps_prefix_and_rewards_average_to_d_on_complete_sequences():
    g = lstm.init_lstm(jax.random.PRNGKey(0), S.vocab, S.emb, S.hidden, stddev=1.0)
    d = S.discriminator().init(jax.random.PRNGKey(1), jnp.zeros((1, S.length), jnp.int32))
    tokens = lstm.sample(g, jax.random.PRNGKey(2), 3000, S.length)
    # a D whose scores vary: a steep output layer centred on these sequences' mean logit gap
    d = d["params"]
    kernel = 50.0 * d["output"]["kernel"]
    gap = S.discriminator().apply({"params": d}, tokens, features=True) @ kernel
    d = d | {"output": {"kernel": kernel,
                        "bias": jnp.array([0.0, -float((gap[:, 1] - gap[:, 0]).mean())])}}
    kept = lstm.rollout(g, jax.random.PRNGKey(3), tokens, jnp.int32(3))
    assert bool((kept[:, :3] == tokens[:, :3]).all()) and not bool((kept == tokens).all())
    reward = sg.rewards(g, d, jax.random.PRNGKey(4), tokens, S)
    full = sg.d_prob_real(d, tokens, S)
    np.testing.assert_allclose(reward[:, -1], full, rtol=1e-6)  # the last token: D(sequence)
    # rollouts through G itself: E[reward at t] = E[D(x)] for x ~ G at every t (tower rule)
    spread = float(full.std())
    assert spread > 0.1
    fresh = sg.d_prob_real(d, lstm.sample(g, jax.random.PRNGKey(5), 10_000, S.length), S)
    np.testing.assert_allclose(reward.mean(0), float(fresh.mean()), atol=5 * spread / 50)


def test_rollout_update_mixes_all_but_the_embedding():
    g = lstm.init_lstm(jax.random.PRNGKey(0), S.vocab, S.emb, S.hidden)
    moved = sg.State(jax.tree.map(lambda a: a + 1.0, g), None, None, None, None, g)
    mixed = sg.update_rollout(moved, sg.HPARAMS).roll
    np.testing.assert_allclose(mixed["Wi"], g["Wi"] + 0.2, rtol=1e-6)
    np.testing.assert_allclose(mixed["emb"], moved.g["emb"])
    # ROLLOUT(generator, 0.8) after pretraining: the rollout starts as G, a fixed point of the
    # update while G has not moved (a rollout left at the random init would drift toward G)
    started = sg.start_rollout(moved)
    assert jax.tree.all(jax.tree.map(lambda a, b: bool((a == b).all()), started.roll, moved.g))
    kept = sg.update_rollout(started, sg.HPARAMS).roll
    for name in g:
        np.testing.assert_allclose(kept[name], moved.g[name], rtol=1e-6)


def test_phases_are_vmappable_and_mle_lowers_nll_test():
    oracle = small_oracle()
    train = lstm.sample_many(oracle, jax.random.PRNGKey(1), 512, S.length, 512)
    hp = {k: jnp.full((2,), v) for k, v in sg.HPARAMS.items()}
    states = jax.vmap(lambda k: sg.init_state(k, S))(jax.random.split(jax.random.PRNGKey(0), 2))
    assert not np.allclose(states.g["Wi"][0], states.g["Wi"][1])
    before = jax.vmap(lambda g: nll.nll_test(g, train))(states.g)
    epoch = jax.jit(jax.vmap(lambda s, h: sg.mle_epoch(s, train, h, S)))
    for _ in range(3):
        states, _ = epoch(states, hp)
    after = jax.vmap(lambda g: nll.nll_test(g, train))(states.g)
    assert bool((after < before - 0.1).all()), (before, after)


def code_pickle(marker: Path) -> bytes:
    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))
    return pickle.dumps([Payload()])


def test_bad_oracle_files_are_one_line(tmp_path):
    arrays = [np.zeros(s, np.float32) for s in
              lstm.param_shapes(5000, 32, 32).values()]
    good = pickle.dumps(arrays)
    with pytest.raises(UserError, match="sha256") as err:
        oracle_data.parse_params(good)  # right shapes, not the original's bytes
    assert "\n" not in str(err.value)
    marker = tmp_path / "ran"
    with pytest.raises(UserError, match="refused to unpickle.*Path") as err:
        oracle_data.parse_params(code_pickle(marker), expected_sha256=None)
    assert not marker.exists() and "\n" not in str(err.value)
    with pytest.raises(UserError, match="15 arrays") as err:
        oracle_data.parse_params(pickle.dumps(arrays[:14] + [np.zeros(3)]), expected_sha256=None)
    assert "\n" not in str(err.value)
    with pytest.raises(UserError, match="not a readable pickle"):
        oracle_data.parse_params(good[:100], expected_sha256=None)
    assert len(oracle_data.parse_params(good, expected_sha256=None)) == 15
    (tmp_path / oracle_data.FILE_NAME).write_bytes(good)  # found in DIR, refused by checksum
    with pytest.raises(UserError, match="sha256"):
        oracle_data.load_oracle(tmp_path)


class FakeResponse(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_download_is_checked_and_lands_in_dir_seqgan(tmp_path, monkeypatch):
    asked = []

    def fails(url, timeout):
        asked.append(url)
        raise OSError("no network")

    with pytest.raises(UserError, match="could not download .*--data-dir"):
        oracle_data.download(tmp_path, urlopen=fails)
    assert asked == [oracle_data.URL]
    with pytest.raises(UserError, match="sha256"):
        oracle_data.download(tmp_path, urlopen=lambda url, timeout: FakeResponse(b"junk"))
    assert oracle_data.locate(tmp_path) is None  # nothing kept
    assert oracle_data.load_oracle(tmp_path).name == "seeded_normal_66"  # the stand-in
    if ORACLE_FILE.is_file():
        data = ORACLE_FILE.read_bytes()
        monkeypatch.setattr(oracle_data.urllib.request, "urlopen",
                            lambda url, timeout: FakeResponse(data))
        assert oracle_data.load_oracle(tmp_path, fetch=True).name == oracle_data.ORIGINAL
        assert oracle_data.locate(tmp_path) == tmp_path / "seqgan" / oracle_data.FILE_NAME


def test_paper_projection_counts_the_original_schedule():
    """At one second a piece: 120 MLE epochs; 50 D rounds of one sampling + 3 x 312 steps;
    200 iterations of a G step (its rewards included) + 5 such rounds; 24 + 40 + 1 evaluations."""
    from benchmark.tools import seqgan_preview

    ones = dict.fromkeys(("d_step", "rewards", "g_step", "mle_epoch", "sample_9984",
                          "eval_9984"), 1.0)
    seconds = seqgan_preview.project(ones)
    assert seconds == {"mle": 120, "d_pretrain": 50 * (1 + 3 * 312),
                       "adversarial": 200 * (1 + 5 * (1 + 3 * 312)), "evaluation": 65}


def test_preview_driver_rows_and_mle_below_random():
    from benchmark.tools import seqgan_preview

    result = seqgan_preview.run(S, seeds=2, n_train=64, n_test=64, log=lambda _: None)
    rows = seqgan_preview.rows(result)
    assert {r["model"] for r in rows} == {"random", "mle", "seqgan"}
    assert {r["seed"] for r in rows} == {0, 1} and rows[0]["oracle"] == "seeded_normal_66_small"
    last = {r["model"]: r["nll_oracle"] for r in rows if r["seed"] == 0}  # the last of each
    assert last["mle"] < last["random"]
    assert set(result["seconds_per"]) == {"mle_epoch", "d_round", "adversarial_batch"}
