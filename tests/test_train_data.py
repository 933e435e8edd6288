"""Tasks and datasets: names, options, fixed splits, the MNIST-1D cache, CIFAR-10 batches, user .npz."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from nasbot_viz.arch.architecture import Architecture, Layer
from nasbot_viz.errors import NasbotVizError, TaskError
from nasbot_viz.train import TASKS, Task, get_task
from nasbot_viz.train import data as D


@pytest.fixture(autouse=True)
def _fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NASBOT_VIZ_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("NASBOT_VIZ_CIFAR10", raising=False)
    monkeypatch.setattr(D, "_CACHE", {})


def tiny_cnn(units: int = 8) -> Architecture:
    layers = [Layer("ip"), Layer("conv3", units, 1), Layer("max-pool"), Layer("fc", 16), Layer("softmax"), Layer("op")]
    return Architecture.create("cnn", layers, [(i, i + 1) for i in range(5)])


def tiny_mlp(out: str = "softmax") -> Architecture:
    layers = [Layer("ip"), Layer("relu", 16), Layer("tanh", 16), Layer(out), Layer("op")]
    return Architecture.create("mlp", layers, [(i, i + 1) for i in range(4)])


# ------------------------------------------------------------------------------------ tasks
def test_every_listed_task_has_a_frozen_picklable_description():
    for name in ["digits-cnn", "digits-mlp", "mnist1d-cnn", "mnist1d-mlp", "tabular-mlp",
                 "synthetic-cnn", "synthetic-mlp", "cifar10"]:
        assert name in TASKS and TASKS[name]
    for name in TASKS:
        if name == "cifar10":
            continue
        t = get_task(name)
        assert isinstance(t, Task) and t.kind in ("cnn", "mlp") and t.direction == "minimize"
        assert t.default_epochs >= 1 and t.description
        assert pickle.loads(pickle.dumps(t)) == t and hash(t) == hash(pickle.loads(pickle.dumps(t)))
        with pytest.raises(AttributeError):
            t.kind = "x"  # frozen


def test_unknown_tasks_and_options_are_clear_errors():
    with pytest.raises(TaskError, match="did you mean 'digits-cnn'"):
        get_task("digit-cnn")
    with pytest.raises(TaskError, match="no option 'learning_rate'"):
        get_task("digits-cnn", learning_rate=0.1)
    with pytest.raises(TaskError, match="wrong type"):
        get_task("digits-cnn", batch_size="64")
    with pytest.raises(TaskError, match="positive"):
        get_task("digits-cnn", lr=-1.0)
    with pytest.raises(TaskError, match="epochs"):
        get_task("digits-cnn", epochs=0)
    assert isinstance(TaskError("x"), NasbotVizError)


def test_options_change_the_task_and_epochs_set_its_default():
    t = get_task("digits-cnn", lr=0.01, epochs=4)
    assert t.option("lr") == 0.01 and t.default_epochs == 4 and t != get_task("digits-cnn")
    assert get_task(t) is t
    assert get_task(t, batch_size=16).option("batch_size") == 16


# ------------------------------------------------------------------------------------ splits
def test_digits_splits_are_fixed_per_seed_disjoint_and_stratified():
    t = get_task("digits-cnn")
    d = D.load_dataset(t)
    assert d.input_shape == (1, 8, 8) and d.num_outputs == 10 and d.problem == "classification"
    assert len(d.x_train) + len(d.x_val) + len(d.x_test) == 1797
    assert set(np.unique(d.y_val)) == set(range(10))
    rows = lambda x: {r.tobytes() for r in x}  # noqa: E731
    assert not rows(d.x_val) & rows(d.x_test)
    D._CACHE.clear()
    again = D.load_dataset(get_task("digits-cnn"))
    assert np.array_equal(again.x_val, d.x_val) and np.array_equal(again.y_train, d.y_train)
    other = D.load_dataset(get_task("digits-cnn", split_seed=1))
    assert not np.array_equal(other.y_train, d.y_train)
    assert D.load_dataset(get_task("digits-mlp")).input_shape == (64,)


def test_tabular_regression_standardises_targets_with_training_statistics():
    d = D.load_dataset(get_task("tabular-mlp"))
    assert d.problem == "regression" and d.num_outputs == 1 and d.input_shape == (10,)
    assert abs(d.y_train.mean()) < 1e-5 and abs(d.y_train.std() - 1) < 1e-4
    assert len(d.x_train) == 1200 and len(d.x_val) == 400 and len(d.x_test) == 400


def test_mnist1d_is_generated_locally_and_cached_on_disk(monkeypatch, tmp_path):
    d = D.load_dataset(get_task("mnist1d-cnn"))
    assert d.input_shape == (1, 40) and len(d.x_train) == 3000 and len(d.x_val) == 1000 and len(d.x_test) == 1000
    cached = list((tmp_path / "cache").glob("mnist1d*.npz"))
    assert len(cached) == 1

    import mnist1d.data

    def no_regeneration(*a, **k):
        raise AssertionError("regenerated instead of reading the cache")

    monkeypatch.setattr(mnist1d.data, "make_dataset", no_regeneration)
    D._CACHE.clear()
    mlp = D.load_dataset(get_task("mnist1d-mlp"))
    assert mlp.input_shape == (40,)
    assert np.array_equal(mlp.x_val, d.x_val[:, 0, :])


# ------------------------------------------------------------------------------------ CIFAR-10
def write_fake_cifar(root: Path, per_batch: int = 12) -> Path:
    folder = root / D.CIFAR10_DIRNAME
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {
            b"batch_label": name.encode(),
            b"data": rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8),
            b"labels": [int(v) for v in rng.integers(0, 10, size=per_batch)],
            b"filenames": [f"{k}.png".encode() for k in range(per_batch)],
        }
        with open(folder / name, "wb") as f:
            pickle.dump(batch, f)
    return folder


def test_cifar10_reads_the_python_batches_from_a_given_root(tmp_path):
    folder = write_fake_cifar(tmp_path / "data")
    t = get_task("cifar10", root=str(tmp_path / "data"))
    assert t.kind == "cnn" and t.option("root") == str(folder)
    assert get_task("cifar10", root=str(folder)).option("root") == str(folder)
    d = D.load_dataset(t)
    assert d.input_shape == (3, 32, 32) and d.x_train.dtype == np.uint8 and d.num_outputs == 10
    assert len(d.x_train) + len(d.x_val) == 60 and len(d.x_test) == 12
    assert d.x_mean.shape == (3, 1, 1) and (d.x_std > 0).all()
    # the first test image is the first row of test_batch, channel-major as CIFAR stores it
    with open(folder / "test_batch", "rb") as f:
        raw = pickle.load(f)[b"data"][0]
    assert np.array_equal(d.x_test[0].reshape(-1), raw)


def test_cifar10_trains_a_small_cnn_on_the_fake_data(tmp_path):
    pytest.importorskip("torch")
    from nasbot_viz.train import evaluate

    write_fake_cifar(tmp_path)
    r = evaluate(tiny_cnn(), get_task("cifar10", root=str(tmp_path), batch_size=16), epochs=1)
    assert r.ok, r.failure_reason
    assert 0 <= r.value <= 1


def test_cifar10_absent_is_a_clear_error_and_never_a_download(tmp_path, monkeypatch):
    import socket

    def no_network(*a, **k):
        raise AssertionError("tried to use the network")

    monkeypatch.setattr(socket, "create_connection", no_network)
    with pytest.raises(TaskError, match="never downloads"):
        get_task("cifar10", root=str(tmp_path))
    with pytest.raises(TaskError, match="not found"):
        get_task("cifar10")  # default root: the (empty) cache dir
    bad = tmp_path / "bad" / D.CIFAR10_DIRNAME
    bad.mkdir(parents=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (bad / name).write_bytes(b"not a pickle")
    t = get_task("cifar10", root=str(bad))
    with pytest.raises(TaskError, match="not a CIFAR-10 python batch"):
        D.load_dataset(t)


# ------------------------------------------------------------------------------------ user npz
def test_npz_classification_and_regression_happy_paths(tmp_path):
    pytest.importorskip("torch")
    from nasbot_viz.train import evaluate

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    np.savez(tmp_path / "cls.npz", X=x, y=y)
    t = get_task(f"npz:{tmp_path / 'cls.npz'}")
    assert t.kind == "mlp" and t.problem == "classification"
    d = D.load_dataset(t)
    assert d.num_outputs == 2 and len(d.x_train) + len(d.x_val) + len(d.x_test) == 120
    r = evaluate(tiny_mlp(), t, epochs=20)
    assert r.ok and r.value < 0.3

    np.savez(tmp_path / "reg.npz", X=x, y=(2 * x[:, 1] + x[:, 2]).astype(np.float64))
    t = get_task(f"npz:{tmp_path / 'reg.npz'}")
    assert t.problem == "regression"
    r = evaluate(tiny_mlp("linear"), t, epochs=30)
    assert r.ok and r.value < 0.5

    imgs = rng.normal(size=(40, 1, 6, 6)).astype(np.float32)
    labels = rng.integers(0, 3, size=40)
    np.savez(tmp_path / "img.npz", X=imgs, y=labels, X_val=imgs[:10], y_val=labels[:10],
             X_test=imgs[:8], y_test=labels[:8])
    t = get_task(f"npz:{tmp_path / 'img.npz'}")
    assert t.kind == "cnn"
    d = D.load_dataset(t)
    assert d.input_shape == (1, 6, 6) and len(d.x_train) == 40 and len(d.x_val) == 10 and len(d.x_test) == 8
    assert evaluate(tiny_cnn(), t, epochs=1).ok
    assert get_task(f"npz:{tmp_path / 'img.npz'}", kind="mlp").kind == "mlp"


@pytest.mark.parametrize("arrays,message", [
    ({"X": np.zeros((20, 3))}, "missing array 'y'"),
    ({"features": np.zeros((20, 3)), "y": np.zeros(20)}, "missing array 'X'"),
    ({"X": np.zeros((20, 3)), "y": np.zeros(19, dtype=int)}, "20 rows but y has 19"),
    ({"X": np.zeros(20), "y": np.zeros(20, dtype=int)}, "shape"),
    ({"X": np.array(["a"] * 20), "y": np.zeros(20, dtype=int)}, "numeric"),
    ({"X": np.full((20, 3), np.nan), "y": np.zeros(20, dtype=int)}, "NaN"),
    ({"X": np.zeros((20, 3)), "y": np.zeros((20, 2, 2))}, "shape"),
    ({"X": np.zeros((20, 3)), "y": -np.ones(20, dtype=int)}, "class labels"),
    ({"X": np.zeros((20, 3)), "y": np.zeros(20, dtype=int)}, "at least 2 classes"),
    ({"X": np.zeros((4, 3)), "y": np.arange(4)}, "at least 10 rows"),
    ({"X": np.zeros((20, 3)), "y": np.arange(20) % 2, "X_val": np.zeros((5, 3))}, "both X_val and y_val"),
    ({"X": np.zeros((20, 3)), "y": np.arange(20) % 2, "X_val": np.zeros((5, 4)), "y_val": np.zeros(5, dtype=int)},
     "X_val rows"),
])
def test_npz_errors_are_one_clear_line(tmp_path, arrays, message):
    path = tmp_path / "data.npz"
    np.savez(path, **arrays)
    with pytest.raises(TaskError, match=message) as err:
        get_task(f"npz:{path}")
    assert "\n" not in str(err.value)


def test_npz_missing_file_object_arrays_and_cnn_on_flat_data(tmp_path):
    with pytest.raises(TaskError, match="no file"):
        get_task(f"npz:{tmp_path / 'absent.npz'}")
    with pytest.raises(TaskError, match="needs a path"):
        get_task("npz:")
    np.savez(tmp_path / "obj.npz", X=np.array([{"a": 1}] * 12, dtype=object), y=np.arange(12) % 2)
    with pytest.raises(TaskError, match="numeric"):
        get_task(f"npz:{tmp_path / 'obj.npz'}")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(TaskError, match="not a readable .npz"):
        get_task(f"npz:{tmp_path / 'junk.npz'}")
    np.savez(tmp_path / "flat.npz", X=np.zeros((20, 3)), y=np.arange(20) % 2)
    with pytest.raises(TaskError, match="a CNN needs"):
        get_task(f"npz:{tmp_path / 'flat.npz'}", kind="cnn")
