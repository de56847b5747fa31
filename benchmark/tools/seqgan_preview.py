"""The SeqGAN CPU preview: MLE and SeqGAN on the oracle, phase by phase, with wall times.

``python -m benchmark seqgan-preview [--data-dir DIR] [--seeds N] [--profile preview|paper]``
prints NLL-oracle (and NLL-test) of a random generator, of the MLE-pretrained generator and
after adversarial batches, beside the paper's Table 1 and the original code's log
(docs/protocol.md §11.5), and projects the full schedule's time from the measured step rates.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from benchmark.data import oracle as oracle_data
from benchmark.errors import OneLineParser, UserError
from benchmark.runner import sequences
from benchmark.training import seqgan as sg

PROFILES = {"preview": sg.PREVIEW, "paper": sg.PAPER, "smoke": sg.SMOKE}
PAPER_TABLE1 = {"random": 10.310, "mle": 9.038, "seqgan": 8.736}  # Yu et al. 2017, Table 1
ORIGINAL_LOG = {"mle": 9.07058, "seqgan": 8.6832}  # save/experiment-log.txt: epoch 115, batch 150


def _fold(keys: jax.Array, i: int) -> jax.Array:
    """Each run's key folded with i."""
    return jax.vmap(jax.random.fold_in, in_axes=(0, None))(keys, i)


def _timed(fn, *args):
    start = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return out, time.perf_counter() - start


def run(sched: sg.Schedule, seeds: int = 2, data_dir: Path | None = None,
        n_train: int = oracle_data.N_TRAIN, n_test: int = 2000, log=print) -> dict:
    """Train ``seeds`` vmapped runs phase by phase; returns the curves, timings and step rates.
    Each phase is timed twice where it repeats: the first call includes compilation."""
    t0 = time.perf_counter()
    data = sequences.draw_corpus(sched, n_train, n_test, data_dir)
    oracle, train, test = data["oracle"], data["train"], data["test"]
    data_s = time.perf_counter() - t0
    log(f"oracle {data['oracle_name']} ({data['oracle_source']}); {n_train} train + {n_test} "
        f"test sequences sampled in {data_s:.0f} s; {seeds} seeds vmapped")
    hp = {k: jnp.full((seeds,), v, jnp.float32) for k, v in sg.HPARAMS.items()}
    keys = jax.random.split(jax.random.PRNGKey(1), seeds)
    run_keys = jax.vmap(lambda k: jax.random.split(k, 4))(keys)

    init = jax.jit(jax.vmap(lambda k, h: sg.init_state(k, sched, h)))
    mle = jax.jit(jax.vmap(lambda s, h: sg.mle_epoch(s, train, h, sched)))
    evaluate = jax.jit(jax.vmap(lambda g, k: sg.evaluate(g, k, oracle, test, sched)))
    d_round = jax.jit(jax.vmap(lambda s, k, h: sg.d_round(s, k, train, h, sched)))
    adv = jax.jit(jax.vmap(lambda s, k, h: sg.adversarial_batch(s, k, train, h, sched)))

    curve: list[dict] = []
    timing: dict[str, list[float]] = {"mle_epoch": [], "d_round": [], "adversarial_batch": []}

    def point(phase: str, step: int, g, elapsed: float):
        values = np.asarray(evaluate(g, _fold(run_keys[:, 3], len(curve))))
        row = {"phase": phase, "step": step, "oracle": data["oracle_name"],
               "nll_oracle": values[:, 0].tolist(), "nll_test": values[:, 1].tolist(),
               "wall_s": round(elapsed, 1)}
        curve.append(row)
        log(f"{phase:>12} {step:4d}  nll_oracle {values[:, 0].mean():.3f} ± "
            f"{values[:, 0].std():.3f}  nll_test {values[:, 1].mean():.3f}  "
            f"[{elapsed:.0f} s]")

    start = time.perf_counter()
    state = init(run_keys[:, 0], hp)
    point("random", 0, state.g, time.perf_counter() - start)
    for epoch in range(sched.pretrain_epochs):
        (state, _loss), took = _timed(mle, state, hp)
        timing["mle_epoch"].append(took)
        if epoch % sched.eval_every == 0 or epoch == sched.pretrain_epochs - 1:
            point("mle", epoch + 1, state.g, time.perf_counter() - start)
    for r in range(sched.d_pretrain_rounds):
        state, took = _timed(d_round, state, _fold(run_keys[:, 1], r), hp)
        timing["d_round"].append(took)
    log(f"{'d_pretrain':>12} {sched.d_pretrain_rounds:4d} rounds  "
        f"[{time.perf_counter() - start:.0f} s]")
    for b in range(sched.adversarial_batches):
        state, took = _timed(adv, state, _fold(run_keys[:, 2], b), hp)
        timing["adversarial_batch"].append(took)
        if (b + 1) % sched.eval_every == 0 or b == sched.adversarial_batches - 1:
            point("seqgan", b + 1, state.g, time.perf_counter() - start)
    rates = {name: (float(np.median(ts[1:])) if len(ts) > 1 else float(ts[0])) if ts else None
             for name, ts in timing.items()}
    return {"oracle": data["oracle_name"], "seeds": seeds,
            "schedule": dataclasses.asdict(sched), "curve": curve, "seconds_per": rates,
            "data_s": data_s, "wall_s": time.perf_counter() - start}


def rows(result: dict) -> list[dict]:
    """One row per (run, evaluation point), in the results' manner: the model ("random",
    "mle" for pretraining points, "seqgan" for adversarial ones), seed, step and the metric
    columns, and the oracle used."""
    out = []
    for point in result["curve"]:
        for seed, (oracle_nll, test_nll) in enumerate(zip(point["nll_oracle"], point["nll_test"],
                                                          strict=True)):
            out.append({"model": point["phase"], "seed": seed, "step": point["step"],
                        "dataset": "oracle", "oracle": point["oracle"],
                        "nll_oracle": oracle_nll, "nll_test": test_nll,
                        "wall_s": point["wall_s"]})
    return out


def paper_step_rates(repeats: int = 3, log=print) -> dict[str, float]:
    """Seconds for one run's pieces at the paper's sizes (one seed, compiled, median of
    ``repeats``): a D training step on 64 sequences, the 16-rollout rewards of one G batch,
    a G step (rewards included), an MLE epoch, sampling 9,984 sequences, their NLL-oracle."""
    sched, hp = sg.PAPER, sg.HPARAMS
    state = sg.init_state(jax.random.PRNGKey(0), sched)
    oracle = sg.lstm.init_lstm(jax.random.PRNGKey(66), stddev=1.0)
    train = sg.lstm.sample_many(oracle, jax.random.PRNGKey(1), 9984, sched.length, 1248)
    tokens, labels = train[:64], jnp.arange(64) % 2
    n = sched.whole(sched.negatives)
    d_step = jax.jit(lambda d, k: jax.grad(sg.d_loss)(d, tokens, labels, k, hp, sched))
    pieces = {
        "d_step": (d_step, state.d, jax.random.PRNGKey(2)),
        "rewards": (jax.jit(lambda s, k: sg.rewards(s.roll, s.d, k, tokens, sched)), state,
                    jax.random.PRNGKey(3)),
        "g_step": (jax.jit(lambda s, k: sg.generator_step(s, k, hp, sched)), state,
                   jax.random.PRNGKey(4)),
        "mle_epoch": (jax.jit(lambda s: sg.mle_epoch(s, train, hp, sched)), state),
        "sample_9984": (jax.jit(lambda g, k: sg.lstm.sample_many(g, k, n, 20, 1248)), state.g,
                        jax.random.PRNGKey(5)),
        "eval_9984": (jax.jit(lambda g, k: sg.nll.nll_oracle(g, oracle, k, n, 20, 1248)),
                      state.g, jax.random.PRNGKey(6)),
    }
    rates = {}
    for name, (fn, *args) in pieces.items():
        _timed(fn, *args)  # compile
        rates[name] = float(np.median([_timed(fn, *args)[1] for _ in range(repeats)]))
        log(f"paper size {name}: {rates[name]:.3f} s")
    return rates


def project(rates: dict[str, float], sched: sg.Schedule = sg.PAPER) -> dict[str, float]:
    """Seconds one run of ``sched`` would take at these rates (docs/protocol.md §11.3 counts)."""
    batches = sched.whole(oracle_data.N_TRAIN + sched.whole(sched.negatives)) // sched.batch
    d_round = rates["sample_9984"] + sched.d_epochs * batches * rates["d_step"]
    evals = sched.pretrain_epochs // sched.eval_every + sched.adversarial_batches \
        // sched.eval_every + 1
    return {
        "mle": sched.pretrain_epochs * rates["mle_epoch"],
        "d_pretrain": sched.d_pretrain_rounds * d_round,
        "adversarial": sched.adversarial_batches * (  # g_step includes its rewards
            rates["g_step"] + sched.d_rounds * d_round),
        "evaluation": evals * rates["eval_9984"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m benchmark seqgan-preview", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="preview")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--train", type=int, default=oracle_data.N_TRAIN)
    parser.add_argument("--test", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=None, help="write the result as JSON")
    parser.add_argument("--project-paper", action="store_true",
                        help="time the paper-size pieces and project the paper schedule")
    try:
        args = parser.parse_args(argv)
        if args.project_paper:
            rates = paper_step_rates()
            seconds = project(rates)
            print(f"projected paper schedule, one run on this machine: "
                  f"{ {k: round(v / 3600, 2) for k, v in seconds.items()} } hours, "
                  f"{sum(seconds.values()) / 3600:.1f} h in all")
            if args.out:
                args.out.write_text(json.dumps({"rates": rates, "seconds": seconds}, indent=1))
            return 0
        result = run(PROFILES[args.profile], args.seeds, args.data_dir, args.train, args.test)
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"paper Table 1: {PAPER_TABLE1}; original log: {ORIGINAL_LOG}")
    print(f"seconds per (all seeds at once): {result['seconds_per']}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result | {"rows": rows(result)}, indent=1))
    return 0

