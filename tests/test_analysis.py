"""Analysis layer of the explorer: embedding stability, lineage layout, posterior tables, run feed."""

from __future__ import annotations

import math
import subprocess
import sys
import time

import numpy as np
import pytest

from nasbot_viz.analysis.embedding import EmbeddingWorker, IncrementalTSNE, disparity, make_otmann_rows
from nasbot_viz.analysis.feed import RunFeed
from nasbot_viz.analysis.fixtures import fill_store
from nasbot_viz.analysis.lineage import describe_modifiers, lineage_edges, lineage_layout, path_to_root
from nasbot_viz.analysis.posterior import candidate_rows, posterior_rows, summary
from nasbot_viz.arch import zoo
from nasbot_viz.store import MemoryStore


def _clusters(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 8, (4, 6))
    X = centres[np.arange(n) % 4] + rng.normal(0, 1, (n, 6))
    return np.sqrt(((X[:, None] - X[None]) ** 2).sum(-1))


def test_tsne_keeps_clusters_apart():
    D = _clusters(60)
    xy = IncrementalTSNE(seed=0).update(D)
    labels = np.arange(60) % 4
    within = np.mean([np.linalg.norm(xy[i] - xy[j]) for i in range(60) for j in range(60) if i < j and labels[i] == labels[j]])
    across = np.mean([np.linalg.norm(xy[i] - xy[j]) for i in range(60) for j in range(60) if labels[i] != labels[j]])
    assert within * 2 < across


def test_adding_points_does_not_make_the_map_jump():
    D = _clusters(64)
    tsne = IncrementalTSNE(seed=1)
    before = tsne.update(D[:60, :60]).copy()
    after = tsne.update(D)
    assert tsne.last_method == "warm"
    assert disparity(before, after[:60]) < 0.05  # a fresh layout scores ~0.6
    # and the map really is a t-SNE: a fresh fit of the same data is not simply the old one
    assert after.shape == (64, 2) and np.isfinite(after).all()


def test_too_few_points_are_placed_without_tsne():
    tsne = IncrementalTSNE()
    xy = tsne.update(_clusters(3))
    assert tsne.last_method == "placeholder" and xy.shape == (3, 2)
    xy = tsne.update(_clusters(8))  # first fit once there are enough points
    assert tsne.last_method == "full" and xy.shape == (8, 2)


def test_the_matrix_may_not_shrink():
    tsne = IncrementalTSNE()
    tsne.update(_clusters(10))
    with pytest.raises(ValueError):
        tsne.update(_clusters(6))


def test_embedding_worker_places_real_architectures_by_otmann_distance():
    pool = zoo.initial_pool("cnn")
    worker = EmbeddingWorker(make_otmann_rows(), chunk=5)
    try:
        worker.submit([(a.id, a) for a in pool])
        worker.submit([(pool[0].id, pool[0])])  # duplicates are ignored
        deadline = time.time() + 60
        while (worker.busy or len(worker.layout().ids) < len(pool)) and time.time() < deadline:
            time.sleep(0.05)
        layout = worker.layout()
        assert set(layout.ids) == {a.id for a in pool}
        assert layout.version >= 3  # grown in chunks of 5, each published
        ids, D = worker.matrix()
        assert np.allclose(D, D.T) and np.allclose(np.diag(D), 0)
        assert ((D >= 0) & (D <= 1 + 1e-9)).all()  # emd is normalised
        assert worker.error is None
    finally:
        worker.stop()


def test_embedding_worker_reports_errors_and_keeps_running():
    def broken(new, everything):
        raise RuntimeError("no distances today")

    worker = EmbeddingWorker(broken)
    try:
        a = zoo.initial_pool("cnn")[0]
        worker.submit([(a.id, a)])
        deadline = time.time() + 10
        while worker.error is None and time.time() < deadline:
            time.sleep(0.02)
        assert "no distances today" in worker.error
    finally:
        worker.stop()


def test_lineage_layout_tree():
    trials = [{"trial_id": 0, "parents": []}, {"trial_id": 1, "parents": []},
              {"trial_id": 2, "parents": [0], "modifiers": [{"name": "widen", "layer": 2}]},
              {"trial_id": 3, "parents": [2, 1]}, {"trial_id": 4, "parents": [0]}]
    nodes = lineage_layout(trials)
    assert [nodes[t].depth for t in range(5)] == [0, 0, 1, 2, 1]
    assert nodes[3].parent == 2  # the first parent is the tree parent
    assert nodes[0].x == pytest.approx((nodes[2].x + nodes[4].x) / 2)  # parents centred over children
    assert path_to_root(nodes, 3) == [0, 2, 3]
    assert path_to_root(nodes, 99) == []
    assert sorted((p, c) for p, c, _ in lineage_edges(nodes)) == [(0, 2), (0, 4), (2, 3)]
    assert "widen" in nodes[2].modifiers


def test_lineage_survives_deep_chains_and_loops():
    chain = [{"trial_id": i, "parents": [i - 1] if i else []} for i in range(3000)]
    nodes = lineage_layout(chain)
    assert nodes[2999].depth == 2999
    loop = [{"trial_id": 0, "parents": [1]}, {"trial_id": 1, "parents": [0]}]
    assert set(lineage_layout(loop)) == {0, 1}


def test_real_modifier_records_are_described():
    s = MemoryStore()
    run = fill_store(s, 20, seed=3)
    rec = next(t for t in s.trials(run) if t.modifiers)
    text = describe_modifiers(rec.modifiers)
    assert text and "{" not in text
    assert describe_modifiers([{"name": "mystery", "x": 1}]) == "mystery(x=1)"


def test_posterior_tables_tolerate_missing_keys():
    snap = {"trial_ids": [1, 2, 3], "mean": [0.1, 0.2], "std": [0.01, -0.02, 0.03], "observed": [0.11, None, 0.3],
            "candidates": [{"mean": 0.1, "std": 0.1, "acquisition": 0.5}, {"acquisition": 0.9}, "junk"], "chosen": 1}
    rows = posterior_rows(snap, {2: 0.25})
    assert [r["trial_id"] for r in rows] == [1, 2, 3]
    assert math.isnan(rows[2]["mean"]) and rows[1]["std"] == 0.02 and rows[1]["observed"] == 0.25
    cands = candidate_rows(snap)
    assert [c["chosen"] for c in cands] == [False, True, False] and math.isnan(cands[2]["acquisition"])
    assert "3 evaluated" in summary(snap)
    assert posterior_rows(None) == [] and candidate_rows({}) == []
    assert "No model snapshot" in summary(None)


def test_feed_reads_incrementally_and_skips_overlapping_polls():
    s = MemoryStore()
    run = fill_store(s, 30, fail_every=5, leave_pending=3)
    feed = RunFeed(s, run)
    first = feed.poll()
    assert len(first.new) == 30 and feed.status == "running"
    assert feed.counts()["failed"] == 5 and feed.counts()["pending"] == 3
    assert feed.poll().changed == set()  # nothing new
    from nasbot_viz.records import Result

    s.mark_running(run, 28)
    s.record_result(run, 28, Result(value=0.001))
    res = feed.poll()
    assert res.changed == {28} and not res.new
    assert feed.incumbent() == 28 and feed.latest() == 29
    feed._lock.acquire()
    try:
        assert feed.poll().busy
    finally:
        feed._lock.release()


def test_feed_reports_store_errors_instead_of_raising():
    s = MemoryStore()
    feed = RunFeed(s, "no-such-run")
    res = feed.poll()
    assert res.error and "no-such-run" in res.error


def test_analysis_imports_no_ui_libraries():
    code = ("import sys, nasbot_viz.analysis.embedding, nasbot_viz.analysis.lineage, nasbot_viz.analysis.posterior, "
            "nasbot_viz.analysis.feed, nasbot_viz.analysis.fixtures; "
            "bad = [m for m in ('panel', 'holoviews', 'bokeh', 'param', 'graphviz', 'torch') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
