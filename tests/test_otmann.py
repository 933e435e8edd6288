"""OTMANN against the authors' reference data (dragonfly 0.1.7, reference §11)."""

from __future__ import annotations

import numpy as np
import pytest

from nasbot_viz.arch import Architecture
from nasbot_viz.distance import (
    VARIANTS,
    DistanceCache,
    KindMismatchError,
    OTMANNConfig,
    label_mismatch_table,
    otmann,
    otmann_matrix,
)
from nasbot_viz.distance.core import features, mislabel_matrix, ot_cost_matrices, struct_matrix


def close(ours, ref) -> None:
    ours, ref = np.asarray(ours, float), np.asarray(ref, float)
    tol = 1e-9 * np.maximum(1.0, np.abs(ref))
    bad = np.abs(ours - ref) > tol
    assert not bad.any(), f"{bad.sum()} entries differ; worst {np.abs(ours - ref).max()}"


def networks(ref: dict) -> list[Architecture]:
    return [Architecture.from_dict(d) for d in ref["networks"]]


def test_variant_names_follow_the_authors_return_order(reference):
    assert VARIANTS == [v["name"] for v in sorted(reference["settings"]["variants"], key=lambda v: v["dragonfly_return_index"])]
    assert OTMANNConfig().variants == VARIANTS
    assert OTMANNConfig(struct_coeffs=(0.2,), mislabel_coeffs=(1,)).variants == ["lp_s0.2", "emd_s0.2"]


def test_label_mismatch_table_matches_reference(reference):
    s = reference["settings"]
    kind = "cnn" if s["nn_type"] == "cnn" else "mlp"
    from nasbot_viz.arch import labels as L

    table = label_mismatch_table(kind, 1.0)
    ref = np.array(s["label_mismatch_matrix_inf_as_-1"])
    idx = [L.LABELS[kind].index(x) for x in s["all_layer_labels"]]
    ours = np.where(np.isinf(table), -1.0, table)[np.ix_(idx, idx)]
    assert np.array_equal(ours, ref)


def test_all_eight_matrices_match_reference(reference):
    archs = networks(reference)
    got = otmann_matrix(archs, n_jobs=1)
    assert list(got) == VARIANTS
    for name in VARIANTS:
        close(got[name], reference["distances"][name])
        assert np.array_equal(got[name], got[name].T)
        assert np.all(np.diag(got[name]) == 0.0)


def test_single_pair_api_matches_reference_in_both_orders(reference):
    archs = networks(reference)
    n = len(archs)
    for i in range(n):
        for j in range(n):
            r = otmann(archs[i], archs[j])
            close([r.distances[v] for v in VARIANTS], [reference["distances"][v][i][j] for v in VARIANTS])


def test_example_cost_matrices(reference):
    ex = reference["example_cost_matrices"]
    i, j = ex["pair"]
    archs = networks(reference)
    fa, fb = features(archs[i]), features(archs[j])
    M = mislabel_matrix(fa, fb)
    close(np.where(np.isinf(M), -1.0, M), ex["mislabel_cost_matrix_inf_as_-1"])
    close(struct_matrix(fa, fb), ex["struct_cost_matrix"])
    C = ot_cost_matrices(fa, fb, OTMANNConfig())
    close(C[0], ex["ot_cost_matrix_coeff0_with_sink_row_col"])
    plan = otmann(archs[i], archs[j]).plans["s0.1"]
    close(plan.cost, ex["ot_cost_matrix_coeff0_with_sink_row_col"])


@pytest.mark.parametrize(
    "kind,i,j,expected",
    [
        ("cnn", 0, 2, {"lp_s0.1": 539.0488888888892, "emd_s0.1": 0.19067607422918997, "lp_s1.5": 1143.9733333333334}),
        ("mlp", 0, 2, {"lp_s0.1": 2864.9333333333325, "emd_s0.1": 0.6177620608360644}),
    ],
)
def test_spot_values(kind, i, j, expected):
    from conftest import load_reference

    archs = networks(load_reference(kind))
    d = otmann(archs[i], archs[j]).distances
    for name, value in expected.items():
        close(d[name], value)


def test_distinct_networks_at_distance_zero(reference_cnn):
    archs = networks(reference_cnn)
    assert archs[0].id != archs[1].id
    assert otmann(archs[0], archs[1]).distances["lp_s1.5"] == pytest.approx(0.0, abs=1e-9)


def test_transport_plan_marginals_are_the_masses(reference):
    archs = networks(reference)
    masses = reference["layer_masses"]
    for i, j in [(0, 1), (1, 3), (2, len(archs) - 1)]:
        result = otmann(archs[i], archs[j])
        assert list(result.plans) == ["s0.1", "s0.25", "s0.61", "s1.5"]
        t1, t2 = sum(masses[i]), sum(masses[j])
        for key, plan in result.plans.items():
            T = plan.matrix
            assert T.shape == (len(masses[i]) + 1, len(masses[j]) + 1)
            assert np.all(T >= 0)
            np.testing.assert_allclose(T.sum(axis=1), masses[i] + [t2], rtol=1e-9)
            np.testing.assert_allclose(T.sum(axis=0), masses[j] + [t1], rtol=1e-9)
            np.testing.assert_allclose(plan.masses_a, masses[i], rtol=1e-12)
            np.testing.assert_allclose(plan.masses_b, masses[j], rtol=1e-12)
            assert plan.lp == pytest.approx(float(np.sum(T * plan.cost)), rel=1e-12)
            assert plan.lp == result.distances[f"lp_{key}"]
            # Matched + unassigned mass adds back up to each layer's mass.
            matched_a = np.zeros(len(masses[i]))
            matched_b = np.zeros(len(masses[j]))
            for a, b, m in plan.matches(0.0):
                matched_a[a] += m
                matched_b[b] += m
            np.testing.assert_allclose(matched_a + plan.unassigned_a, masses[i], rtol=1e-9)
            np.testing.assert_allclose(matched_b + plan.unassigned_b, masses[j], rtol=1e-9)
            # No mass ever moves between layers whose labels may not be matched.
            assert not np.any(T[plan.cost >= 7.65432e5 - 1] > 1e-9)


def test_matches_threshold_filters_small_moves(reference_cnn):
    archs = networks(reference_cnn)
    plan = otmann(archs[2], archs[9]).plans["s0.25"]
    everything = plan.matches(0.0)
    big = plan.matches(50.0)
    assert big and len(big) <= len(everything)
    assert all(m > 50.0 for _, _, m in big)


def test_rectangular_matrix_against_others(reference):
    archs = networks(reference)
    a, b = archs[:5], archs[3:]
    got = otmann_matrix(a, b, n_jobs=1)
    for name in VARIANTS:
        assert got[name].shape == (5, len(b))
        close(got[name], np.array(reference["distances"][name])[:5, 3:])


def test_cache_pairwise_shape_and_order(reference_mlp):
    archs = networks(reference_mlp)
    cache = DistanceCache(n_jobs=1)
    block = cache.pairwise(archs[:3], archs)
    assert block.shape == (8, 3, len(archs))
    for k, name in enumerate(VARIANTS):
        close(block[k], np.array(reference_mlp["distances"][name])[:3])
    assert len(cache) == len(archs)


def test_comparing_a_cnn_with_an_mlp_is_a_clear_error(reference_cnn, reference_mlp):
    cnn = networks(reference_cnn)[0]
    mlp = networks(reference_mlp)[0]
    with pytest.raises(KindMismatchError, match="CNN"):
        otmann(cnn, mlp)
    cache = DistanceCache(n_jobs=1)
    cache.matrix([cnn])
    with pytest.raises(KindMismatchError, match="MLP"):
        cache.pairwise([mlp], [cnn])


def test_bad_config_is_a_clear_error():
    with pytest.raises(ValueError, match="same"):
        OTMANNConfig(mislabel_coeffs=(1, 1), struct_coeffs=(0.1,))
    with pytest.raises(ValueError, match="nap|penalty"):
        OTMANNConfig(nap=0)


def test_public_ot_emd_fallback_gives_the_same_distances(reference_cnn, monkeypatch):
    """If POT's private C entry point is unavailable, `ot.emd` is used, with the same results."""
    from nasbot_viz.distance import _pot

    archs = networks(reference_cnn)[:6]
    monkeypatch.setattr(_pot, "HAVE_EMD_C", False)
    calls = [0]
    real = _pot.ot.emd

    def spy(*args, **kwargs):
        calls[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(_pot.ot, "emd", spy)
    got = otmann_matrix(archs, n_jobs=1)
    assert calls[0] == 15 * 4
    for name in VARIANTS:
        close(got[name], np.array(reference_cnn["distances"][name])[:6, :6])
    plan = otmann(archs[0], archs[2]).plans["s0.1"]
    np.testing.assert_allclose(plan.matrix.sum(axis=1)[:-1], plan.masses_a, rtol=1e-9)
