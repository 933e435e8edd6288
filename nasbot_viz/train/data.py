"""Datasets as numpy arrays with fixed train / validation / test splits, loaded lazily and cached
per process (and, for generated MNIST-1D, on disk). Nothing here downloads anything."""

from __future__ import annotations

import os
import pickle
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nasbot_viz.errors import TaskError

CIFAR10_DIRNAME = "cifar-10-batches-py"
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar.html"


@dataclass(frozen=True)
class Dataset:
    """Split arrays. X is float32 and already scaled, except where ``x_mean``/``x_std`` are given
    (CIFAR-10 stays uint8 to save memory; the trainer normalises per batch). Regression targets are
    standardised with the training mean and standard deviation."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    problem: str  # 'classification' or 'regression'
    num_outputs: int  # classes or regression targets
    x_mean: np.ndarray | None = None
    x_std: np.ndarray | None = None

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])


def cache_dir() -> Path:
    """Where generated data is cached: $NASBOT_VIZ_CACHE, else ~/.cache/nasbot-viz."""
    env = os.environ.get("NASBOT_VIZ_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "nasbot-viz"


_CACHE: dict[tuple, Dataset] = {}
_LOCK = threading.Lock()


def load_dataset(task: Any) -> Dataset:
    """The task's dataset, built once per process."""
    keys = ("split_seed", "root", "max_train", "path", "problem")
    key = (task.dataset, task.kind) + tuple(task.option(k) for k in keys)
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = _LOADERS[task.dataset](task)
        return _CACHE[key]


# ----------------------------------------------------------------------------------- splitting
def _split_three(x, y, seed: int, val: float, test: float, stratify: bool):
    from sklearn.model_selection import train_test_split

    strat = y if stratify else None
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=test, random_state=seed, stratify=strat)
    strat = y_rest if stratify else None
    x_tr, x_val, y_tr, y_val = train_test_split(
        x_rest, y_rest, test_size=val / (1 - test), random_state=seed, stratify=strat
    )
    return x_tr, y_tr, x_val, y_val, x_test, y_test


def _regression(x_tr, y_tr, x_val, y_val, x_te, y_te) -> Dataset:
    """Standardise features and targets with training statistics."""
    mu, sd = x_tr.mean(0), x_tr.std(0)
    sd = np.where(sd > 0, sd, 1.0)
    ymu, ysd = y_tr.mean(0), y_tr.std(0)
    ysd = np.where(ysd > 0, ysd, 1.0)
    f = lambda a: ((a - mu) / sd).astype(np.float32)  # noqa: E731
    g = lambda a: ((a - ymu) / ysd).astype(np.float32)  # noqa: E731
    y_tr = g(y_tr)
    return Dataset(f(x_tr), y_tr, f(x_val), g(y_val), f(x_te), g(y_te), "regression",
                   1 if y_tr.ndim == 1 else y_tr.shape[1])


def _classification(x_tr, y_tr, x_val, y_val, x_te, y_te, num_classes: int, **kw) -> Dataset:
    c = lambda a: np.ascontiguousarray(a)  # noqa: E731
    return Dataset(c(x_tr), y_tr.astype(np.int64), c(x_val), y_val.astype(np.int64), c(x_te),
                   y_te.astype(np.int64), "classification", num_classes, **kw)


# ----------------------------------------------------------------------------------- loaders
def _digits(task) -> Dataset:
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)
    x = x[:, None, :, :] if task.kind == "cnn" else x.reshape(len(x), -1)
    parts = _split_three(x, d.target, task.option("split_seed", 0), 0.2, 0.2, stratify=True)
    return _classification(*parts, num_classes=10)


def mnist1d_arrays() -> dict[str, np.ndarray]:
    """MNIST-1D generated locally (`make_dataset(get_dataset_args())`, seed 42), cached as .npz."""
    path = cache_dir() / "mnist1d-seed42-v1.npz"
    if path.exists():
        try:
            with np.load(path) as f:
                return {k: f[k] for k in ("x", "y", "x_test", "y_test")}
        except Exception:  # a damaged cache file is regenerated
            pass
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as err:
        raise TaskError("MNIST-1D needs the 'mnist1d' package: pip install mnist1d") from err
    d = make_dataset(get_dataset_args())
    arrays = {k: np.asarray(d[k]) for k in ("x", "y", "x_test", "y_test")}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)  # atomic: parallel workers never see half a file
    except OSError:
        pass  # an unwritable cache only costs regeneration
    return arrays


def _mnist1d(task) -> Dataset:
    from sklearn.model_selection import train_test_split

    a = mnist1d_arrays()
    x, xt = a["x"].astype(np.float32), a["x_test"].astype(np.float32)
    if task.kind == "cnn":
        x, xt = x[:, None, :], xt[:, None, :]
    x_tr, x_val, y_tr, y_val = train_test_split(
        x, a["y"], test_size=1000, random_state=task.option("split_seed", 0), stratify=a["y"]
    )
    return _classification(x_tr, y_tr, x_val, y_val, xt, a["y_test"], num_classes=10)


def _friedman1(task) -> Dataset:
    from sklearn.datasets import make_friedman1

    x, y = make_friedman1(n_samples=2000, n_features=10, noise=1.0, random_state=0)
    return _regression(*_split_three(x, y, task.option("split_seed", 0), 0.2, 0.2, stratify=False))


def _diabetes(task) -> Dataset:
    from sklearn.datasets import load_diabetes

    x, y = load_diabetes(return_X_y=True)
    return _regression(*_split_three(x, y, task.option("split_seed", 0), 0.2, 0.2, stratify=False))


# ----------------------------------------------------------------------------------- CIFAR-10
def find_cifar10(root: str | os.PathLike | None) -> str:
    """The folder holding CIFAR-10's python batches: ``root`` itself, or ``root/cifar-10-batches-py``.
    Without ``root``: $NASBOT_VIZ_CIFAR10, else the cache dir. A clear error, never a download."""
    candidates = []
    if root is None:
        root = os.environ.get("NASBOT_VIZ_CIFAR10") or str(cache_dir())
    base = Path(root).expanduser()
    candidates = [base, base / CIFAR10_DIRNAME]
    for c in candidates:
        if all((c / f).is_file() for f in _CIFAR_FILES):
            return str(c)
    missing = [f for f in _CIFAR_FILES if not (base / CIFAR10_DIRNAME / f).is_file() and not (base / f).is_file()]
    raise TaskError(
        f"CIFAR-10 not found under {base} (missing {', '.join(missing)}). nasbot-viz never downloads it: "
        f"get cifar-10-python.tar.gz from {CIFAR10_URL}, extract it, and pass root=<folder containing "
        f"{CIFAR10_DIRNAME}> (or set NASBOT_VIZ_CIFAR10)"
    )


_CIFAR_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as f:
            d = pickle.load(f, encoding="bytes")
        data = d.get(b"data", d.get("data"))
        labels = d.get(b"labels", d.get("labels"))
        x = np.asarray(data, dtype=np.uint8).reshape(-1, 3, 32, 32)
        y = np.asarray(labels, dtype=np.int64)
    except Exception as err:
        raise TaskError(f"{path} is not a CIFAR-10 python batch ({type(err).__name__}: {err})") from None
    if len(x) != len(y):
        raise TaskError(f"{path}: {len(x)} images but {len(y)} labels")
    return x, y


def _cifar10(task) -> Dataset:
    root = Path(find_cifar10(task.option("root")))
    parts = [_read_cifar_batch(root / f"data_batch_{i}") for i in range(1, 6)]
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    xt, yt = _read_cifar_batch(root / "test_batch")
    from sklearn.model_selection import train_test_split

    seed = task.option("split_seed", 0)
    n_val = max(1, len(x) // 10)
    x_tr, x_val, y_tr, y_val = train_test_split(x, y, test_size=n_val, random_state=seed)
    max_train = task.option("max_train")
    if max_train is not None and max_train < len(x_tr):
        idx = np.random.default_rng(seed).permutation(len(x_tr))[:max_train]
        x_tr, y_tr = x_tr[idx], y_tr[idx]
    mean = (x_tr.reshape(len(x_tr), 3, -1).mean((0, 2)) / 255.0).astype(np.float32).reshape(3, 1, 1)
    std = (x_tr.reshape(len(x_tr), 3, -1).std((0, 2)) / 255.0).astype(np.float32).reshape(3, 1, 1)
    return _classification(x_tr, y_tr, x_val, y_val, xt, yt, num_classes=10,
                           x_mean=mean * 255.0, x_std=np.maximum(std, 1e-3) * 255.0)


# ----------------------------------------------------------------------------------- user .npz
def _open_npz(path: str) -> dict[str, np.ndarray]:
    p = Path(path).expanduser()
    if not p.is_file():
        raise TaskError(f"npz task: no file {p}")
    try:
        f = np.load(p, allow_pickle=False)
    except Exception as err:
        raise TaskError(f"{p} is not a readable .npz file ({type(err).__name__}: {err})") from None
    if not isinstance(f, np.lib.npyio.NpzFile):
        raise TaskError(f"{p} is not a readable .npz file (it holds one array); "
                        "save with np.savez(path, X=features, y=labels_or_targets)")
    out: dict[str, np.ndarray] = {}
    with f:
        for k in f.files:
            try:
                out[k] = f[k]
            except ValueError as err:
                if "pickle" in str(err).lower():
                    raise TaskError(f"{p}: array {k!r} must be numeric, not Python objects") from None
                raise TaskError(f"{p}: array {k!r} cannot be read: {err}") from None
            except Exception as err:
                raise TaskError(f"{p} is not a readable .npz file ({type(err).__name__}: {err})") from None
    return out


def _check_xy(p: str, x: np.ndarray, y: np.ndarray, xname: str, yname: str) -> None:
    if x.dtype.kind not in "fiub":
        raise TaskError(f"{p}: {xname} must be numeric, got dtype {x.dtype}")
    if y.dtype.kind not in "fiub":
        raise TaskError(f"{p}: {yname} must be numeric, got dtype {y.dtype}")
    if x.ndim < 2 or x.ndim > 4:
        raise TaskError(f"{p}: {xname} must be (N, features), (N, C, L) or (N, C, H, W); got shape {x.shape}")
    if y.ndim not in (1, 2):
        raise TaskError(f"{p}: {yname} must be (N,) labels/targets or (N, T) targets; got shape {y.shape}")
    if len(x) != len(y):
        raise TaskError(f"{p}: {xname} has {len(x)} rows but {yname} has {len(y)}")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise TaskError(f"{p}: {xname} contains NaN or infinite values")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise TaskError(f"{p}: {yname} contains NaN or infinite values")


def _npz_problem(y: np.ndarray, problem: str | None, p: str) -> str:
    if problem is None:
        problem = "classification" if y.dtype.kind in "iub" and y.ndim == 1 else "regression"
    if problem not in ("classification", "regression"):
        raise TaskError(f"npz task: problem must be 'classification' or 'regression', got {problem!r}")
    if problem == "classification":
        if y.ndim != 1 or (y.dtype.kind == "f" and not np.all(y == np.round(y))):
            raise TaskError(f"{p}: classification labels y must be integers shaped (N,)")
        if y.min() < 0:
            raise TaskError(f"{p}: class labels must be 0, 1, 2, ...; got {int(y.min())}")
    return problem


def inspect_npz(path: str, problem: str | None = None) -> dict[str, Any]:
    """Check a user .npz before any worker sees it; every problem is a one-line `TaskError`."""
    arrays = _open_npz(path)
    for key in ("X", "y"):
        if key not in arrays:
            raise TaskError(f"{path}: missing array {key!r} (found {', '.join(sorted(arrays)) or 'none'}); "
                            "save with np.savez(path, X=features, y=labels_or_targets)")
    x, y = arrays["X"], arrays["y"]
    _check_xy(path, x, y, "X", "y")
    for suffix in ("val", "test"):
        xs, ys = f"X_{suffix}", f"y_{suffix}"
        if (xs in arrays) != (ys in arrays):
            raise TaskError(f"{path}: give both {xs} and {ys}, or neither")
        if xs in arrays:
            _check_xy(path, arrays[xs], arrays[ys], xs, ys)
            if arrays[xs].shape[1:] != x.shape[1:]:
                raise TaskError(f"{path}: {xs} rows are {arrays[xs].shape[1:]} but X rows are {x.shape[1:]}")
    problem = _npz_problem(y, problem, path)
    if len(x) < 10:
        raise TaskError(f"{path}: need at least 10 rows, got {len(x)}")
    num_outputs = int(y.max()) + 1 if problem == "classification" else (1 if y.ndim == 1 else y.shape[1])
    if problem == "classification" and num_outputs < 2:
        raise TaskError(f"{path}: classification needs at least 2 classes")
    return {"kind": "mlp" if x.ndim == 2 else "cnn", "x_shape": tuple(x.shape), "problem": problem,
            "num_outputs": num_outputs}


def _npz(task) -> Dataset:
    path = task.option("path")
    info = inspect_npz(path, task.option("problem"))
    a = _open_npz(path)
    x, y = a["X"].astype(np.float32), a["y"]
    if task.kind == "mlp":
        x = x.reshape(len(x), -1)
    # standardise per feature (MLP) or per channel (CNN) with whole-X statistics
    axes = (0,) if x.ndim == 2 else (0,) + tuple(range(2, x.ndim))
    x_mu = x.mean(axes, keepdims=True)
    x_sd = np.maximum(x.std(axes, keepdims=True), 1e-8)
    seed = task.option("split_seed", 0)
    classify = info["problem"] == "classification"
    y = y.astype(np.int64) if classify else y.astype(np.float64)
    x = ((x - x_mu) / x_sd).astype(np.float32)
    have_val, have_test = "X_val" in a, "X_test" in a

    def extra(name):
        xe = a[f"X_{name}"].astype(np.float32)
        xe = xe.reshape(len(xe), -1) if task.kind == "mlp" else xe
        return ((xe - x_mu) / x_sd).astype(np.float32), a[f"y_{name}"].astype(y.dtype)

    stratify = classify and np.bincount(y).min() >= 3
    from sklearn.model_selection import train_test_split

    if have_val and have_test:
        x_tr, y_tr = x, y
        (x_val, y_val), (x_te, y_te) = extra("val"), extra("test")
    elif have_val or have_test:
        x_tr, x_other, y_tr, y_other = train_test_split(x, y, test_size=0.2, random_state=seed,
                                                        stratify=y if stratify else None)
        given = extra("val" if have_val else "test")
        (x_val, y_val), (x_te, y_te) = (given, (x_other, y_other)) if have_val else ((x_other, y_other), given)
    else:
        x_tr, y_tr, x_val, y_val, x_te, y_te = _split_three(x, y, seed, 0.2, 0.2, stratify)
    if classify:
        num = max(info["num_outputs"], int(max(y_val.max(), y_te.max())) + 1)
        return _classification(x_tr, y_tr, x_val, y_val, x_te, y_te, num_classes=num)
    return _regression(x_tr, y_tr, x_val, y_val, x_te, y_te)


_LOADERS = {
    "digits": _digits,
    "mnist1d": _mnist1d,
    "friedman1": _friedman1,
    "diabetes": _diabetes,
    "cifar10": _cifar10,
    "npz": _npz,
}
