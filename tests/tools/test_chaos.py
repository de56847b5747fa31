"""The chaos script's bookkeeping (``benchmark.tools.chaos``; the script itself is run by hand and
its output reported in docs/speed.md) and the trace it reads (``benchmark.runner.trace``)."""

from __future__ import annotations

import pytest

from benchmark.runner import trace
from benchmark.tools import chaos


def test_trace_lines_round_trip_and_a_torn_line_is_skipped(tmp_path, monkeypatch):
    path = tmp_path / "trace"
    monkeypatch.setenv(trace.ENV, str(path))
    trace.phase("ns_gan_g0", "train")
    trace.phase("ns_gan_g0", "rows")
    with open(path, "a") as f:
        f.write("1700000000.5 12")  # a writer killed mid-line
    entries = trace.read(path)
    assert [(task, name) for _, _, task, name in entries] == [("ns_gan_g0", "train"),
                                                             ("ns_gan_g0", "rows")]
    assert entries[0][0] <= entries[1][0]
    monkeypatch.delenv(trace.ENV)
    trace.phase("ns_gan_g0", "done")  # not tracing: nothing written
    assert len(trace.read(path)) == 2
    assert trace.read(tmp_path / "absent") == []


def test_phase_lengths_are_per_process_medians():
    entries = [(0.0, 1, "a", "train"), (0.5, 2, "b", "train"), (3.0, 1, "a", "evaluate"),
               (4.0, 2, "b", "evaluate"), (4.5, 1, "a", "rows"), (4.501, 1, "a", "checkpoint"),
               (6.0, 2, "b", "rows"), (6.003, 2, "b", "checkpoint"), (7.0, 1, "a", "done")]
    lengths = chaos.phase_seconds(entries)
    assert lengths["train"] == pytest.approx(3.25)  # median of 3.0 and 3.5
    assert lengths["evaluate"] == pytest.approx(1.75)  # 1.5 and 2.0
    assert lengths["rows"] == pytest.approx(0.002)  # 0.001 and 0.003
    assert lengths["checkpoint"] == pytest.approx(2.499)  # process 1's only
    assert "done" not in lengths  # nothing after it


def test_the_killed_process_landed_in_its_last_phase(tmp_path):
    path = tmp_path / "trace"
    path.write_text("1.0 7 a train\n2.0 8 b train\n3.0 7 a evaluate\n4.0 8 b rows\n")
    assert chaos.landed(path, 7) == "evaluate"
    assert chaos.landed(path, 8) == "rows"
    assert chaos.landed(path, 9) == "start-up"
