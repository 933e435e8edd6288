"""`nasbot-viz run / resume / info / export` as a user types them."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys

import pytest

from nasbot_viz.cli import main
from nasbot_viz.commands.run_commands import ProgressPrinter
from nasbot_viz.records import TrialState
from nasbot_viz.run import RunProgress
from nasbot_viz.store import open_store


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def finished_store(tmp_path, capsys):
    path = tmp_path / "evo.db"
    code, out, err = run_cli(capsys, "run", "--task", "synthetic-cnn", "--method", "evolution", "--evaluations", "16",
                             "--workers", "2", "--executor", "thread", "--store", str(path), "--seed", "1")
    assert code == 0, err
    return path, out


def test_run_plain_lines_and_store(finished_store):
    path, out = finished_store
    lines = out.splitlines()
    assert lines[0].startswith("searching synthetic-cnn with evolution: 16 evaluations on 2 thread workers")
    trial_lines = [ln for ln in lines if ln.startswith("trial ")]
    assert len(trial_lines) == 16 and all("ETA" in ln and "best" in ln for ln in trial_lines)
    assert "| 16/16 done" in trial_lines[-1]
    assert any(ln.startswith("finished: 16 evaluations") for ln in lines)
    with open_store(path, readonly=True) as store:
        [run] = store.list_runs()
        assert run["status"] == "finished"
        cfg = run["config"]
        assert (cfg["task"], cfg["method"], cfg["seed"], cfg["budget_evaluations"]) == ("synthetic-cnn", "evolution", 1, 16)
        assert cfg["searcher"]["method"] == "evolution" and cfg["searcher"]["config"]["seed"] == 1
        counts = store.counts(run["run_id"])
        assert counts["done"] + counts["failed"] == 16 and counts["running"] == counts["pending"] == 0
        mutated = [t for t in store.trials(run["run_id"]) if t.origin == "mutation"]
        assert mutated and all(t.parents and t.modifiers for t in mutated)


def test_info(finished_store, capsys):
    path, _ = finished_store
    code, out, err = run_cli(capsys, "info", str(path), "--top", "3")
    assert code == 0, err
    assert "task synthetic-cnn, method evolution, seed 1, budget 16 evaluations, 2 thread worker(s)" in out
    assert "[finished]" in out and "best 3:" in out
    with open_store(path, readonly=True) as store:
        run_id = store.list_runs()[0]["run_id"]
        best = sorted((t.value, t.trial_id) for t in store.trials(run_id) if t.state is TrialState.DONE)[:3]
    listed = [ln.split()[0] for ln in out.splitlines() if ln.strip().startswith("#")]
    assert listed == [f"#{tid}" for _, tid in best]


def test_export_json_and_csv(finished_store, capsys, tmp_path):
    path, _ = finished_store
    code, out, err = run_cli(capsys, "export", str(path), "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert set(data) == {"run", "trials"} and data["run"]["config"]["method"] == "evolution"
    trials = data["trials"]
    assert len(trials) == 16
    ids = {t["trial_id"] for t in trials}
    for t in trials:
        assert {"trial_id", "state", "value", "architecture", "parents", "modifiers", "origin"} <= set(t)
        assert t["state"] in ("done", "failed")
        assert all(p in ids and p < t["trial_id"] for p in t["parents"])  # lineage points back in time
        assert t["architecture"]["kind"] == "cnn"
    target = tmp_path / "trials.csv"
    code, _, err = run_cli(capsys, "export", str(path), "--format", "csv", "-o", str(target))
    assert code == 0 and "wrote" in err
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert [int(r["trial_id"]) for r in rows] == sorted(ids)
    by_id = {t["trial_id"]: t for t in trials}
    for r in rows:
        t = by_id[int(r["trial_id"])]
        assert r["state"] == t["state"] and r["parents"] == ";".join(map(str, t["parents"]))
        assert json.loads(r["architecture"]) == t["architecture"]
        assert (float(r["value"]) if r["value"] else None) == t["value"]
    code, _, err = run_cli(capsys, "export", str(path), "-o", str(tmp_path / "no" / "dir" / "x.json"))
    assert code == 2 and "does not exist" in err


def test_resume_extends_a_finished_run(tmp_path, capsys):
    path = tmp_path / "rs.db"
    assert run_cli(capsys, "run", "--task", "synthetic-mlp", "--method", "random", "--evaluations", "4",
                   "--executor", "inline", "--store", str(path))[0] == 0
    code, out, err = run_cli(capsys, "resume", str(path), "--evaluations", "7")
    assert code == 0, err
    assert "resuming run" in out and "4/4 evaluations finished" in out
    with open_store(path, readonly=True) as store:
        [run] = store.list_runs()
        counts = store.counts(run["run_id"])
        assert counts["done"] + counts["failed"] == 7
        assert run["config"]["resumes"] == 1 and run["config"]["budget_evaluations"] == 7
        assert [t.trial_id for t in store.trials(run["run_id"])] == list(range(7))


def test_nasbot_with_acquisition(tmp_path, capsys):
    path = tmp_path / "nb.db"
    code, out, err = run_cli(capsys, "run", "--task", "synthetic-cnn", "--method", "nasbot", "--acquisition", "ucb",
                             "--evaluations", "3", "--workers", "1", "--store", str(path), "--quiet")
    assert code == 0, err
    assert not [ln for ln in out.splitlines() if ln.startswith("trial ")]  # --quiet: summary only
    with open_store(path, readonly=True) as store:
        cfg = store.list_runs()[0]["config"]
        assert cfg["method"] == "nasbot" and cfg["searcher"]["config"]["acquisition"] == "ucb"


def test_live_progress_bar():
    stream = io.StringIO()
    printer = ProgressPrinter(stream, live=True)
    p = RunProgress("r1", "running", done=3, failed=1, running=2, budget_evaluations=8, best_value=0.1234,
                    best_trial_id=2, elapsed=10.0, eta_seconds=75.0)
    printer("done", 3, p)
    printer.message("a note")
    printer("status", None, p)
    printer.finish()
    text = stream.getvalue()
    assert text.startswith("\r[############------------] 4/8 done, 1 failed, 2 running, best 0.1234 (#2), ETA 1m15s")
    assert "\r\x1b[Ka note\n" in text and text.endswith("\n")


def _newer_store(tmp_path):
    path = tmp_path / "newer.db"
    open_store(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 7")
    conn.commit()
    conn.close()
    return path


BAD = [
    (["run", "--task", "nope"], "unknown task 'nope'"),
    (["run", "--method", "bogus"], "invalid choice: 'bogus'"),
    (["run", "--evaluations", "0"], "expected a positive integer, got '0'"),
    (["run", "--workers", "two"], "expected a positive integer, got 'two'"),
    (["run", "--seed", "-1"], "non-negative"),
    (["run", "--device", "tpu"], "expected auto, cpu, cuda"),
    (["run", "--method", "random", "--acquisition", "ucb"], "--acquisition only applies to --method nasbot"),
    (["run", "--dask", "tcp://h:1", "--executor", "thread"], "exclude each other"),
    (["run", "--task", "synthetic-cnn", "--store", "{text}"], "not a nasbot-viz run store"),
    (["info", "{missing}"], "no run store at"),
    (["info", "{text}"], "not a nasbot-viz run store"),
    (["info", "{newer}"], "newer nasbot-viz"),
    (["export", "{empty}"], "holds no runs yet"),
    (["export", "{empty}", "--run", "nope"], "no run 'nope'"),
    (["export", "{empty}", "--format", "xml"], "invalid choice: 'xml'"),
    (["resume", "{missing}"], "no run store at"),
    (["resume", "{empty}"], "holds no runs yet"),
]


@pytest.fixture
def bad_paths(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("just some notes\n" * 20)
    empty = tmp_path / "empty.db"
    open_store(empty).close()
    return {"text": str(text), "missing": str(tmp_path / "missing.db"), "newer": str(_newer_store(tmp_path)),
            "empty": str(empty)}


@pytest.mark.parametrize("argv, message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_clear_line(argv, message, bad_paths, capsys):
    argv = [a.format(**bad_paths) for a in argv]
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    out, err = capsys.readouterr()
    assert code == 2
    assert message in err and err.count("\n") == 1 and err.startswith("nasbot-viz: ")
    assert "Traceback" not in err + out


def test_no_traceback_from_the_real_command(bad_paths, tmp_path):
    for argv, message in [(["info", bad_paths["text"]], "not a nasbot-viz run store"),
                          (["run", "--task", "nope", "--store", str(tmp_path / "x.db")], "unknown task"),
                          (["export", bad_paths["empty"], "-o", str(tmp_path / "no" / "such" / "dir.json")],
                           "holds no runs yet")]:
        proc = subprocess.run([sys.executable, "-m", "nasbot_viz", *argv], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr
        assert proc.stderr.count("\n") == 1
