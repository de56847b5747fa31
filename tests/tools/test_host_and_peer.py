"""The CPU step's two helpers around the benchmark: glibc's malloc kept from returning XLA's
per-step buffer (benchmark.runner.host_memory) and the side-by-side with the PyTorch peer
(benchmark.tools.bench_peer). Their speed is measured by ``make bench-peer``, not here."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from benchmark.runner import host_memory
from benchmark.tools import bench_peer

PROBE = textwrap.dedent("""
    from benchmark.runner.host_memory import keep_freed_memory
    print(keep_freed_memory())
""")


def probe(**env) -> str:
    clean = {k: v for k, v in os.environ.items()
             if k not in host_memory._USER_SETTINGS and k != "BENCHMARK_MALLOC"}
    out = subprocess.run([sys.executable, "-c", PROBE], env={**clean, **env},
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_malloc_is_set_up_on_the_cpu_unless_the_user_chose():
    assert probe(JAX_PLATFORMS="cpu") == "True"
    assert probe(JAX_PLATFORMS="cuda") == "False"  # accelerator buffers are not malloc'ed
    assert probe(JAX_PLATFORMS="cpu", BENCHMARK_MALLOC="default") == "False"
    assert probe(JAX_PLATFORMS="cpu", MALLOC_ARENA_MAX="4") == "False"
    assert probe(JAX_PLATFORMS="cpu", GLIBC_TUNABLES="glibc.malloc.arena_max=2") == "False"


def test_peer_side_by_side_reads_both_figures(tmp_path, monkeypatch, capsys):
    fake = tmp_path / "peer_torch.py"
    fake.write_text("import sys, os\n"
                    "assert sys.argv[1:] == ['1', '3'] and os.environ['PEER_DEVICE'] == 'cpu'\n"
                    "print('proc 0: 2.50 run-steps/s')\nprint('5.00 run-steps/s total')\n")
    figures = iter([4.0, 6.0])
    monkeypatch.setattr(bench_peer, "ours", lambda model, steps, device: next(figures))
    bench_peer.main(["--peer", str(fake), "--steps", "3", "--rounds", "2"])
    out = capsys.readouterr().out.splitlines()
    assert "ours (python -m benchmark bench --runs 1) 4.00" in out[0]
    assert "5.00 run-steps/s; ratio 0.80" in out[0]
    assert out[-1] == "median of 2: ours 5.00 run-steps/s, peer 5.00 run-steps/s, ratio 1.00"


def test_a_missing_peer_is_one_line_and_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        bench_peer.main(["--peer", str(tmp_path / "absent.py")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: peer_torch.py not found") and "\n" not in err
