"""The benchmark scripts run (their --quick form) and write what they promise.

They report figures, not pass/fail: these tests check that the scripts work
and their JSON holds the keys the README and results tables use.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(script, *args):
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout


@pytest.mark.slow
def test_speed_quick(tmp_path):
    out = tmp_path / "speed.json"
    _run("speed.py", "--quick", "--models", "digits", "--json", str(out))
    results = json.loads(out.read_text())
    for key in (
        "kgt_plain_over_bare",
        "kgt_all_over_bare",
        "kgt_lazy_over_bare",
        "classic_over_kgt_all",
        "utilization",
    ):
        assert results[key] > 0, key
    row = results["models"]["digits"]
    # Growth is measured between two real resident-set readings.
    assert row["rss_mb_epoch_2"] > 0 and row["rss_mb_epoch_6"] > 0
    expected = row["rss_mb_epoch_6"] / row["rss_mb_epoch_2"] - 1
    assert results["memory_growth"] == pytest.approx(expected)
    assert set(row["ms_per_step"]) == {
        "bare",
        "kgt-plain",
        "kgt-all",
        "kgt-lazy",
        "classic",
    }
    assert row["step_gflop"] > 0 and row["matmul_gflops"] > 0


@pytest.mark.slow
def test_modes_quick(tmp_path):
    out, png = tmp_path / "modes.json", tmp_path / "modes.png"
    _run(
        "modes.py",
        "--quick",
        "--datasets",
        "ring",
        "--json",
        str(out),
        "--plot",
        str(png),
    )
    results = json.loads(out.read_text())["results"]["ring"]
    assert set(results) == {"vanilla", "all tricks"}
    for row in results.values():
        assert len(row["runs"]) == 2
        assert 0 <= row["modes"][0] <= 8 and 0 <= row["high_quality"][0] <= 1
    assert png.stat().st_size > 10_000


@pytest.mark.slow
def test_digits_quick(tmp_path):
    out, png = tmp_path / "digits.json", tmp_path / "digits.png"
    _run("digits.py", "--quick", "--json", str(out), "--plot", str(png))
    report = json.loads(out.read_text())
    assert report["classifier_accuracy"] > 0.97
    for setting in ("vanilla", "tricks"):
        row = report["results"][setting]
        assert 0 <= row["classes_covered"][0] <= 10
        assert 0 <= row["stacked_modes"][0] <= 1000
        assert row["frechet_distance"][0] > 0
    assert png.stat().st_size > 5_000
