"""Tasks: which data, which kind of architecture, how long to train. Small, frozen, picklable.

A `Task` only names its data; the arrays are loaded lazily inside the worker that evaluates it
(`nasbot_viz.train.data.load_dataset`) and cached per process, so tasks travel cheaply to process
pools and Dask workers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

from nasbot_viz.errors import TaskError

# name -> (kind, dataset, problem, default_epochs, description)
_REGISTRY: dict[str, tuple[str, str, str, int, str]] = {
    "digits-cnn": ("cnn", "digits", "classification", 8,
                   "scikit-learn's bundled 8x8 digits (1,797 images), 2-D CNNs; the instant smoke task"),
    "digits-mlp": ("mlp", "digits", "classification", 10,
                   "scikit-learn's bundled 8x8 digits as 64 features, MLPs"),
    "mnist1d-cnn": ("cnn", "mnist1d", "classification", 10,
                    "MNIST-1D (generated locally, length 40), 1-D CNNs; architectures really differ here"),
    "mnist1d-mlp": ("mlp", "mnist1d", "classification", 10,
                    "MNIST-1D (generated locally, 40 features), MLPs"),
    "tabular-mlp": ("mlp", "friedman1", "regression", 30,
                    "regression on scikit-learn's make_friedman1 (2,000 rows, 10 features, noise 1); "
                    "objective: validation MSE / variance"),
    "diabetes-mlp": ("mlp", "diabetes", "regression", 40,
                     "regression on scikit-learn's bundled diabetes data (442 rows); objective: validation MSE / variance"),
    "synthetic-cnn": ("cnn", "synthetic", "synthetic", 10,
                      "a cheap deterministic function of a CNN's structure (no training); for tests and demos"),
    "synthetic-mlp": ("mlp", "synthetic", "synthetic", 10,
                      "a cheap deterministic function of an MLP's structure (no training); for tests and demos"),
    "cifar10": ("cnn", "cifar10", "classification", 20,
                "CIFAR-10 from the standard python batches under root= (never downloaded); 2-D CNNs"),
}

#: Built-in task names and what each one is (``cifar10`` needs the data on disk: ``root=``).
TASKS: dict[str, str] = {name: spec[4] for name, spec in _REGISTRY.items()}
#: How to name a task on your own data.
USER_DATA_HELP = ("npz:/path/to/data.npz — your own data: arrays X (N, features) for MLPs or (N, C, L) / "
                  "(N, C, H, W) for CNNs, and y (integer labels, or float targets for regression); "
                  "optional X_val/y_val and X_test/y_test")

_TRAIN_DEFAULTS: dict[str, Any] = {
    "lr": 3e-3,
    "batch_size": 64,
    "weight_decay": 0.0,
    "max_params": 10_000_000,
    "split_seed": 0,
}
_DATA_OPTIONS: dict[str, dict[str, Any]] = {
    "digits": {},
    "mnist1d": {},
    "friedman1": {},
    "diabetes": {},
    "synthetic": {"noise": 0.0},
    "cifar10": {"root": None, "max_train": None, "batch_size": 128, "lr": 1e-3},
    "npz": {"path": None, "problem": None},
}
_OPTION_TYPES: dict[str, tuple[type, ...]] = {
    "lr": (float, int), "batch_size": (int,), "weight_decay": (float, int), "max_params": (int,),
    "split_seed": (int,), "noise": (float, int), "root": (str, os.PathLike, type(None)),
    "max_train": (int, type(None)), "path": (str, os.PathLike), "problem": (str, type(None)),
    "epochs": (int,),
}


@dataclass(frozen=True)
class Task:
    """What to train on. ``direction`` is always 'minimize': the objective is validation error
    (1 − accuracy) for classification and validation MSE divided by the validation targets'
    variance for regression."""

    name: str
    kind: str  # the architectures it takes: 'cnn' or 'mlp'
    dataset: str
    problem: str  # 'classification', 'regression' or 'synthetic'
    default_epochs: int
    description: str
    direction: str = "minimize"
    options: tuple[tuple[str, Any], ...] = ()

    def option(self, key: str, default: Any = None) -> Any:
        for k, v in self.options:
            if k == key:
                return v
        return default

    def with_options(self, **options: Any) -> "Task":
        merged = dict(self.options)
        merged.update(options)
        return replace(self, options=tuple(sorted(merged.items())))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "dataset": self.dataset, "problem": self.problem,
                "default_epochs": self.default_epochs, "direction": self.direction,
                "description": self.description, "options": {k: (os.fspath(v) if isinstance(v, os.PathLike) else v)
                                                              for k, v in self.options}}


def _check_options(name: str, dataset: str, options: dict[str, Any]) -> dict[str, Any]:
    allowed = dict(_TRAIN_DEFAULTS)
    allowed.update(_DATA_OPTIONS[dataset])
    allowed["epochs"] = None
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise TaskError(f"task {name!r} has no option {', '.join(map(repr, unknown))}; "
                        f"options: {', '.join(sorted(allowed))}")
    merged = {k: v for k, v in allowed.items() if k != "epochs"}
    for k, v in options.items():
        types = _OPTION_TYPES.get(k, (object,))
        if isinstance(v, bool) or not isinstance(v, types):
            raise TaskError(f"task {name!r}: option {k}={v!r} has the wrong type "
                            f"(expected {' or '.join(t.__name__ for t in types)})")
        merged[k] = os.fspath(v) if isinstance(v, os.PathLike) else v
    if merged["lr"] <= 0 or merged["batch_size"] < 1 or merged["max_params"] < 1 or merged["weight_decay"] < 0:
        raise TaskError(f"task {name!r}: lr and max_params must be positive, batch_size ≥ 1, weight_decay ≥ 0")
    if merged.get("max_train") is not None and merged["max_train"] < 10:
        raise TaskError(f"task {name!r}: max_train must be at least 10")
    return merged


def get_task(name: "str | Task", **options: Any) -> Task:
    """The task called ``name`` (see `TASKS`), with options such as ``lr``, ``batch_size``,
    ``max_params``, ``split_seed``, ``epochs`` (its default epochs), ``root`` (cifar10) or
    ``noise`` (synthetic). ``"npz:/path/file.npz"`` trains on your own arrays."""
    if isinstance(name, Task):
        return name.with_options(**options) if options else name
    if not isinstance(name, str):
        raise TaskError(f"a task is named by a string, got {type(name).__name__}")
    options = dict(options)
    epochs = options.pop("epochs", None)
    if epochs is not None and (not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1):
        raise TaskError(f"task {name!r}: epochs must be a positive integer, got {epochs!r}")
    if name.startswith("npz:"):
        path = name[4:]
        if not path:
            raise TaskError("npz task needs a path: 'npz:/path/to/data.npz'")
        kind_opt = options.pop("kind", None)
        merged = _check_options(name, "npz", dict(options, path=path))
        from nasbot_viz.train.data import inspect_npz

        info = inspect_npz(path, merged.get("problem"))
        kind = kind_opt or info["kind"]
        if kind not in ("cnn", "mlp"):
            raise TaskError(f"task {name!r}: kind must be 'cnn' or 'mlp', got {kind!r}")
        if kind == "cnn" and info["kind"] != "cnn":
            raise TaskError(f"task {name!r}: a CNN needs X shaped (N, C, L) or (N, C, H, W), got {info['x_shape']}")
        merged["problem"] = info["problem"]
        desc = (f"your data {path}: X {info['x_shape']}, {info['problem']}"
                + (f" with {info['num_outputs']} classes" if info["problem"] == "classification" else ""))
        return Task(name, kind, "npz", info["problem"], epochs or 20, desc, options=tuple(sorted(merged.items())))
    if name not in _REGISTRY:
        import difflib

        hint = difflib.get_close_matches(name, list(_REGISTRY), n=1)
        extra = f"; did you mean {hint[0]!r}?" if hint else ""
        raise TaskError(f"unknown task {name!r}{extra} Known tasks: {', '.join(TASKS)}")
    kind, dataset, problem, default_epochs, desc = _REGISTRY[name]
    merged = _check_options(name, dataset, options)
    if dataset == "cifar10":
        from nasbot_viz.train.data import find_cifar10

        merged["root"] = find_cifar10(merged.get("root"))
    return Task(name, kind, dataset, problem, epochs or default_epochs, desc, options=tuple(sorted(merged.items())))
