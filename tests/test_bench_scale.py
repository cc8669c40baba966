"""bench/scale.py runs end to end on its small setting (PostgreSQL + Redis, 12 events drained by 1 and
then 2 worker processes, one gunicorn web run) and prints every figure. The speed-up targets belong to
the full bench on a quiet machine, not to a timed unit test: not asserted."""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NUMBER = r"[\d.]+"


def test_scale_bench_drains_every_event_and_prints_its_figures():
    run = subprocess.run([sys.executable, "bench/scale.py", "--small"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, check=False)
    out = run.stdout
    if out.startswith("scale bench skipped:"):
        pytest.skip(out.strip())
    assert run.returncode in (0, 1), run.stderr[-3000:]  # 1: a target was missed, which is the bench's finding
    assert "ERROR" not in out, out
    for workers in (1, 2):  # workers, threads | ev/s speed-up ...
        row = rf"^\s+{workers}\s+1 \| +({NUMBER}) +({NUMBER})x .*\| workers \d+%  postgres \d+%"
        match = re.search(row, out, re.MULTILINE)
        assert match and float(match.group(1)) > 0, f"no drain row for {workers} worker(s) in:\n{out}"
    # Every event of both runs was finished, and each one as a posted note.
    outcomes = ast.literal_eval(re.search(r"^event outcomes: (\{.*\})$", out, re.MULTILINE).group(1))
    assert outcomes == {"posted": 24}, out
    calls = re.search(rf"^Zendesk calls per event: ({NUMBER}) \(", out, re.MULTILINE)
    assert calls and float(calls.group(1)) >= 2, out  # at least the note and the tags
    web = re.search(rf"^\s+1 \| +({NUMBER}) +{NUMBER}x +{NUMBER} +{NUMBER} +\d+ \| gunicorn \d+%.*\{{202: 150\}}$",
                    out, re.MULTILINE)
    assert web and float(web.group(1)) > 0, f"no web row with 150 accepted webhooks in:\n{out}"
    assert re.search(r"^(PASS|FAIL): 2 workers x 1 thread drain [\d.]+x of one", out, re.MULTILINE), out
    assert re.search(r"^1 thread\(s\)/process: (stops|still) scaling", out, re.MULTILINE), out
    assert re.search(r"^RESULT: targets (met|missed)$", out, re.MULTILINE), out
