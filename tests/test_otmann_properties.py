"""OTMANN properties over many random valid networks, the cache's incremental growth, and parallel runs."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from nasbot_viz.distance import VARIANTS, DistanceCache, OTMANNConfig, otmann, otmann_matrix
from nasbot_viz.distance.testing import random_network, random_networks

LP = [k for k, v in enumerate(VARIANTS) if v.startswith("lp")]
EMD = [k for k, v in enumerate(VARIANTS) if v.startswith("emd")]


@pytest.fixture(scope="module", params=["cnn", "mlp"])
def sample(request):
    archs = random_networks(request.param, 28, seed=20180612, min_layers=5, max_layers=30)
    cache = DistanceCache(n_jobs=1)
    return archs, cache, cache.matrix(archs)


def test_random_networks_are_valid_and_varied():
    rng = np.random.default_rng(0)
    for kind in ("cnn", "mlp"):
        nets = [random_network(kind, rng) for _ in range(40)]
        sizes = [a.num_layers for a in nets]
        assert min(sizes) >= 8 and max(sizes) <= 30
        assert any(len(a.edges) > a.num_layers - 1 for a in nets), "some networks should branch"


def test_symmetric_zero_diagonal_non_negative(sample):
    _, _, D = sample
    assert np.array_equal(D, D.transpose(0, 2, 1))
    assert np.all(np.diagonal(D, axis1=1, axis2=2) == 0.0)
    assert np.all(D >= 0.0)


def test_each_order_of_a_pair_gives_the_same_distance(sample):
    archs, _, D = sample
    for i, j in [(0, 5), (7, 3), (11, 20), (25, 1)]:
        d = otmann(archs[i], archs[j]).distances
        back = otmann(archs[j], archs[i]).distances
        for k, name in enumerate(VARIANTS):
            assert d[name] == pytest.approx(back[name], rel=1e-9, abs=1e-9)
            assert d[name] == pytest.approx(D[k, i, j], rel=1e-9, abs=1e-9)


def test_emd_is_at_most_one(sample):
    _, _, D = sample
    assert D[EMD].max() <= 1.0 + 1e-12


def test_distinct_networks_are_apart(sample):
    _, _, D = sample
    off = ~np.eye(D.shape[1], dtype=bool)
    # Random networks differ in masses, so the lp distances between them are positive.
    assert np.all(D[LP][:, off] > 0.0)


def test_lp_triangle_inequality(sample):
    _, _, D = sample
    for k in LP:
        d = D[k]
        via = d[:, :, None] + d[None, :, :]  # d(i,j) + d(j,l), indexed [i, j, l]
        excess = d[:, None, :] - via  # d(i,l) - (d(i,j) + d(j,l))
        scale = np.maximum(1.0, d[:, None, :])
        assert (excess / scale).max() <= 1e-9


def test_identical_content_gives_exactly_zero():
    rng = np.random.default_rng(3)
    a = random_network("cnn", rng)
    twin = a.with_name("twin")  # same layers and edges, another object and name
    assert twin is not a and twin.id == a.id
    cache = DistanceCache(n_jobs=1)
    block = cache.pairwise([a], [twin])
    assert np.all(block == 0.0)
    assert cache.pairs_computed == 0
    assert all(abs(v) < 1e-9 for v in otmann(a, twin).distances.values())


class SolveCounter:
    """Counts calls of the exact OT solver in this process (n_jobs=1); 4 per pair by default."""

    def __init__(self, monkeypatch):
        from nasbot_viz.distance import _pot

        self.solves = 0
        real = _pot._emd_c

        def counting(*args):
            self.solves += 1
            return real(*args)

        monkeypatch.setattr(_pot, "_emd_c", counting)

    @property
    def pairs(self) -> int:
        assert self.solves % 4 == 0
        return self.solves // 4


def count_solves(monkeypatch) -> SolveCounter:
    return SolveCounter(monkeypatch)


def test_growing_the_set_computes_only_new_pairs(monkeypatch):
    calls = count_solves(monkeypatch)
    archs = random_networks("cnn", 14, seed=11)
    cache = DistanceCache(n_jobs=1)
    first = cache.matrix(archs[:10])
    assert calls.pairs == 45 and cache.pairs_computed == 45 and cache.num_pairs == 45
    assert cache.solver_calls == 45 * 4

    grown = cache.matrix(archs)  # 4 more networks: 4·10 + 6 new pairs
    assert calls.pairs == 45 + 46
    assert len(cache) == 14 and cache.num_pairs == 91
    assert np.array_equal(grown[:, :10, :10], first)

    again = cache.matrix(archs[::-1])  # nothing new, any order
    assert calls.pairs == 91
    assert np.array_equal(again, grown[:, ::-1, ::-1])

    newcomer = random_networks("cnn", 15, seed=11)[14]
    row = cache.pairwise([newcomer], archs)
    assert calls.pairs == 91 + 14
    assert row.shape == (8, 1, 14)

    # Other Architecture objects with the same content hit the cache too.
    clones = [a.with_name(f"clone {k}") for k, a in enumerate(archs)]
    assert np.array_equal(cache.matrix(clones), grown)
    assert calls.pairs == 105


def test_candidates_against_training_reuses_overlaps(monkeypatch):
    calls = count_solves(monkeypatch)
    nets = random_networks("mlp", 20, seed=4)
    train, cand = nets[:8], nets[5:15]  # 3 candidates are also training points
    cache = DistanceCache(n_jobs=1)
    cache.matrix(train)
    assert calls.pairs == 28
    block = cache.pairwise(cand, train)
    # 7 new candidates × 8 training points; the 3 shared ones are already known.
    assert calls.pairs == 28 + 7 * 8
    full = otmann_matrix(nets[:15], n_jobs=1)
    for k, name in enumerate(VARIANTS):
        assert np.allclose(block[k], full[name][5:15, :8], rtol=1e-9, atol=1e-9)


def test_otmann_matrix_with_a_shared_cache(monkeypatch):
    calls = count_solves(monkeypatch)
    nets = random_networks("cnn", 6, seed=9)
    cache = DistanceCache(n_jobs=1)
    otmann_matrix(nets, cache=cache)
    otmann_matrix(nets[:3], nets[3:], cache=cache)
    assert calls.pairs == 15
    with pytest.raises(ValueError, match="different"):
        otmann_matrix(nets, config=OTMANNConfig(struct_coeffs=(1, 2, 3, 4)), cache=cache)


def test_custom_coefficients_change_variant_count():
    nets = random_networks("cnn", 4, seed=2)
    config = OTMANNConfig(mislabel_coeffs=(1.0, 0.5), struct_coeffs=(0.3, 2.0))
    got = otmann_matrix(nets, config=config, n_jobs=1)
    assert list(got) == ["lp_s0.3", "emd_s0.3", "lp_m0.5_s2", "emd_m0.5_s2"]
    r = otmann(nets[0], nets[1], config)
    assert list(r.plans) == ["s0.3", "m0.5_s2"]
    assert r.distances["lp_s0.3"] == pytest.approx(got["lp_s0.3"][0, 1], rel=1e-9)


def test_two_processes_give_identical_results():
    # 40 networks = 780 pairs: above the threshold for using a worker process.
    nets = random_networks("cnn", 40, seed=77)
    serial = DistanceCache(n_jobs=1).matrix(nets)
    from nasbot_viz.distance import _parallel

    _parallel.warm_up(2)
    _parallel._ready.result(timeout=120)  # make sure the worker takes part
    sent = _parallel.stats["pairs_to_workers"]
    parallel_cache = DistanceCache(n_jobs=2)
    par = parallel_cache.matrix(nets)
    assert _parallel.stats["pairs_to_workers"] > sent, "no pairs were sent to the worker process"
    assert np.array_equal(serial, par)
    assert parallel_cache.pairs_computed == 780


def test_works_from_threads():
    nets = random_networks("mlp", 12, seed=8)
    cache = DistanceCache(n_jobs=2)
    results: list[np.ndarray] = []
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            results.append(cache.pairwise(nets[k:], nets))
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    assert cache.pairs_computed == 66
    full = cache.matrix(nets)
    for block in results:
        k = 12 - block.shape[1]
        assert np.array_equal(block, full[:, k:, :])


def test_pair_index_against_a_dict():
    from nasbot_viz.distance._pairindex import PairIndex

    rng = np.random.default_rng(5)
    index = PairIndex(capacity=16)
    reference: dict[int, int] = {}
    for batch in range(30):  # many growths, and keys that collide in the low and high bits
        lo = rng.integers(0, 300, 200)
        hi = rng.integers(0, 300, 200)
        keys = np.unique((lo.astype(np.int64) << 32) | hi)
        keys = np.array([k for k in keys.tolist() if k not in reference], dtype=np.int64)
        vals = np.arange(len(reference), len(reference) + len(keys))
        index.put(keys, vals)
        reference.update(zip(keys.tolist(), vals.tolist()))
        probe = np.concatenate([keys, rng.integers(0, 2**40, 50)])
        got = index.get(probe.reshape(-1, 1))
        assert got.shape == (len(probe), 1)
        assert got.ravel().tolist() == [reference.get(k, -1) for k in probe.tolist()]
    assert len(index) == len(reference)


def test_batching_never_changes_a_pair_result():
    from nasbot_viz.distance.config import DEFAULT_CONFIG
    from nasbot_viz.distance.core import features, solve_batch, solve_pair

    nets = [features(a) for a in random_networks("cnn", 7, seed=21)]
    a, b = nets[0], nets[1]
    alone = solve_pair(a, b, DEFAULT_CONFIG)
    in_a_row = solve_batch([a], nets[1:], DEFAULT_CONFIG)[0]
    in_a_column = solve_batch(nets[:1] + nets[2:], [b], DEFAULT_CONFIG)[0]
    assert np.array_equal(alone, in_a_row)
    assert np.array_equal(alone, in_a_column)


def test_workers_start_from_an_unguarded_script(tmp_path):
    # A script without `if __name__ == "__main__"`: spawned workers must not re-run it.
    import subprocess
    import sys

    script = tmp_path / "unguarded.py"
    script.write_text(
        "from nasbot_viz.distance import DistanceCache, _parallel\n"
        "from nasbot_viz.distance.testing import random_networks\n"
        "print('script body ran')\n"
        "_parallel.warm_up(2)\n"
        "_parallel._ready.result(timeout=120)\n"
        "m = DistanceCache(n_jobs=2).matrix(random_networks('mlp', 30, seed=1))\n"
        "print('pairs to workers', _parallel.stats['pairs_to_workers'])\n"
    )
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("script body ran") == 1
    assert "bootstrapping" not in r.stderr and "Traceback" not in r.stderr
    assert int(r.stdout.split("pairs to workers")[1]) > 0
