"""`nasbot-viz validate` / `distance` driven as a user would: a subprocess, exit codes, messages."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from nasbot_viz.arch.zoo import library_examples


def cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nasbot_viz", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


@pytest.fixture()
def files(tmp_path):
    cnn_1, cnn_3 = library_examples("cnn")[0], library_examples("cnn")[2]
    good = tmp_path / "cnn_1.json"
    good.write_text(cnn_1.to_json())
    other = tmp_path / "cnn_3.json"
    other.write_text(cnn_3.to_json())
    bad = tmp_path / "bad.json"
    d = cnn_1.to_dict()
    d["layers"][1]["units"] = 0
    d["layers"][2]["label"] = "conv4"
    d["edges"].append([5, 1])
    bad.write_text(json.dumps(d))
    broken = tmp_path / "broken.json"
    broken.write_text('{"kind": "cnn", "layers": [')
    mlp = tmp_path / "mlp.json"
    mlp.write_text(library_examples("mlp")[0].to_json())
    return {"good": good, "other": other, "bad": bad, "broken": broken, "mlp": mlp, "dir": tmp_path}


def test_validate_valid_files_exit_0_with_one_line_each(files):
    r = cli("validate", str(files["good"]), str(files["other"]))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 2 and all(": ok: CNN" in line for line in lines)
    assert "Traceback" not in r.stderr


def test_validate_invalid_files_exit_2_one_line_per_violation(files):
    r = cli("validate", str(files["good"]), str(files["bad"]), str(files["broken"]), str(files["dir"] / "missing.json"))
    assert r.returncode == 2
    out = r.stdout
    assert "Traceback" not in out + r.stderr
    bad_lines = [line for line in out.splitlines() if line.startswith(str(files["bad"]))]
    assert any("did you mean 'conv3'" in line for line in bad_lines)
    assert any("cycle" in line for line in bad_lines)
    assert len(bad_lines) >= 2
    assert any("malformed JSON" in line for line in out.splitlines() if line.startswith(str(files["broken"])))
    assert "missing.json: INVALID:" in out and "no such file" in out
    assert ": ok:" in out  # the good file still reported


def test_validate_with_constraints(files):
    r = cli("validate", "--constraints", str(files["good"]))
    # cnn_1 has 9 layers and units >= 8: within the demo constraints.
    assert r.returncode == 0, r.stdout + r.stderr


def test_distance_table_and_json(files):
    r = cli("distance", str(files["good"]), str(files["other"]))
    assert r.returncode == 0, r.stderr
    assert "lp_s0.1" in r.stdout and "emd_s1.5" in r.stdout
    r = cli("distance", "--json", str(files["good"]), str(files["other"]))
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)["distances"]
    # Spot values from the authors' code (reference §11): cnn_1 vs cnn_3.
    assert abs(d["lp_s0.1"] - 539.0488888888892) <= 1e-9 * 539.05
    assert abs(d["emd_s0.1"] - 0.19067607422918997) <= 1e-9
    assert abs(d["lp_s1.5"] - 1143.9733333333334) <= 1e-9 * 1144


def test_distance_errors_are_one_line(files):
    r = cli("distance", str(files["good"]), str(files["mlp"]))
    assert r.returncode == 2 and "cannot compare" in r.stderr and "Traceback" not in r.stderr
    r = cli("distance", str(files["good"]), str(files["bad"]))
    assert r.returncode == 2 and "Traceback" not in r.stderr and "units must be > 0" in r.stderr


def test_bad_arguments_give_one_line_not_a_traceback():
    r = cli("validate")
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.count("\n") == 1
    r = cli("no-such-command")
    assert r.returncode == 2 and "Traceback" not in r.stderr
