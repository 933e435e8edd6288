"""The torch training loop behind `evaluate`: Adam, minibatches, one validation pass per epoch.

The objective is the validation error after the last epoch (not the best epoch), as in NASBOT:
1 − accuracy for classification, MSE / Var(targets) for regression (targets standardised with
training statistics, so predicting the mean scores about 1).
"""

from __future__ import annotations

import math
import time
import traceback
from typing import Callable

import numpy as np
import torch
from torch import nn

from nasbot_viz.arch.architecture import Architecture
from nasbot_viz.errors import TaskError
from nasbot_viz.records import EpochPoint, Result
from nasbot_viz.train.builder import build_module, count_params
from nasbot_viz.train.data import Dataset, load_dataset
from nasbot_viz.train.plan import plan_network

EVAL_BATCH = 1024
#: A regression whose validation MSE exceeds this many times the targets' variance (that is, far
#: worse than predicting the mean) has diverged; its number would only wreck the GP's scale.
MAX_REGRESSION_ERROR = 1e3


class _TimeUp(Exception):
    pass


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise TaskError(f"device {device!r} requested but CUDA is not available here; use 'auto' or 'cpu'")
    return torch.device(device)


def loss_function(problem: str) -> nn.Module:
    return nn.CrossEntropyLoss() if problem == "classification" else nn.MSELoss()


def _is_oom(err: BaseException) -> bool:
    if isinstance(err, MemoryError) or isinstance(err, getattr(torch.cuda, "OutOfMemoryError", ())):
        return True
    text = str(err).lower()
    return "out of memory" in text or "can't allocate memory" in text or "not enough memory" in text


class _Tensors:
    """A dataset's arrays as tensors on the device, normalised per batch when needed."""

    def __init__(self, data: Dataset, dev: torch.device):
        self.dev = dev
        t = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(dev)  # noqa: E731
        self.x = {s: t(getattr(data, f"x_{s}")) for s in ("train", "val", "test")}
        self.y = {s: t(getattr(data, f"y_{s}")) for s in ("train", "val", "test")}
        self.mean = None if data.x_mean is None else t(data.x_mean)
        self.std = None if data.x_std is None else t(data.x_std)

    def batch_x(self, split: str, idx) -> torch.Tensor:
        x = self.x[split][idx]
        if self.mean is not None:
            x = (x.float() - self.mean) / self.std
        return x


def _score(model: nn.Module, tens: _Tensors, split: str, problem: str) -> float:
    """Classification error, or MSE over the split's target variance (targets are standardised)."""
    model.eval()
    n = len(tens.y[split])
    wrong = torch.zeros((), device=tens.dev)
    sq = torch.zeros((), device=tens.dev, dtype=torch.float64)
    with torch.no_grad():
        for start in range(0, n, EVAL_BATCH):
            idx = slice(start, start + EVAL_BATCH)
            out = model(tens.batch_x(split, idx))
            y = tens.y[split][idx]
            if problem == "classification":
                wrong += (out.argmax(1) != y).sum()
            else:
                sq += ((out.reshape(y.shape) - y).double() ** 2).sum()
    if problem == "classification":
        return float(wrong) / n
    y = tens.y[split].double()
    var = float(y.var(0, unbiased=False).mean()) if n > 1 else 1.0
    width = 1 if y.dim() == 1 else y.shape[1]
    return float(sq) / (n * width) / max(var, 1e-12)


def train_and_evaluate(
    arch: Architecture,
    task,
    epochs: int,
    seed: int,
    device: str,
    on_progress: Callable[[EpochPoint], None] | None,
    time_limit: float | None,
    threads: int,
) -> Result:
    data = load_dataset(task)
    dev = resolve_device(device)
    extra = {"task": task.name, "seed": seed, "lr": task.option("lr"), "batch_size": task.option("batch_size")}
    plan = plan_network(arch, data.input_shape, data.num_outputs)
    common = {"num_params": plan.num_params, "flops": plan.macs, "device": dev.type}
    budget = task.option("max_params")
    if plan.num_params > budget:
        return Result.failure(
            f"too large: {plan.num_params:,} parameters exceed the budget of {budget:,}", extra=extra, **common
        )
    old_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    curve: list[EpochPoint] = []
    started = time.perf_counter()
    model = tens = opt = None
    try:
        torch.manual_seed(seed)
        model = build_module(arch, data.input_shape, data.num_outputs).to(dev)
        common["num_params"] = count_params(model)
        tens = _Tensors(data, dev)
        opt = torch.optim.Adam(model.parameters(), lr=task.option("lr"), weight_decay=task.option("weight_decay"))
        loss_fn = loss_function(data.problem)
        gen = torch.Generator().manual_seed(seed)
        n = len(tens.y["train"])
        bs = min(task.option("batch_size"), n)
        for epoch in range(1, epochs + 1):
            model.train()
            order = torch.randperm(n, generator=gen).to(dev)
            total = torch.zeros((), device=dev, dtype=torch.float64)
            seen = 0
            for start in range(0, n, bs):
                idx = order[start:start + bs]
                if len(idx) < 2 and seen:  # batch-norm cannot train on a single example
                    break
                out = model(tens.batch_x("train", idx))
                y = tens.y["train"][idx]
                loss = loss_fn(out.reshape(y.shape) if data.problem == "regression" else out, y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += loss.detach().double() * len(idx)
                seen += len(idx)
                if time_limit is not None and time.perf_counter() - started > time_limit:
                    raise _TimeUp
            train_loss = float(total) / max(seen, 1)
            if not math.isfinite(train_loss):
                return Result.failure(
                    f"diverged: training loss became {train_loss} in epoch {epoch}",
                    train_seconds=time.perf_counter() - started, epochs=epoch - 1,
                    curve=tuple(curve), extra=extra, **common,
                )
            val = _score(model, tens, "val", data.problem)
            if not math.isfinite(val) or (data.problem == "regression" and val > MAX_REGRESSION_ERROR):
                return Result.failure(
                    f"diverged: validation error became {val} in epoch {epoch}",
                    train_seconds=time.perf_counter() - started, epochs=epoch - 1,
                    curve=tuple(curve), extra=extra, **common,
                )
            point = EpochPoint(epoch=epoch, train_loss=train_loss, val_error=val,
                               seconds=time.perf_counter() - started)
            curve.append(point)
            if on_progress is not None:
                on_progress(point)
            if time_limit is not None and time.perf_counter() - started > time_limit and epoch < epochs:
                raise _TimeUp
        test = _score(model, tens, "test", data.problem)
        seconds = time.perf_counter() - started
        return Result(value=curve[-1].val_error, test_error=test, train_seconds=seconds, epochs=epochs,
                      curve=tuple(curve), extra=extra, **common)
    except _TimeUp:
        return Result.failure(
            f"time limit: {time_limit:g} s exceeded after {len(curve)} of {epochs} epochs",
            train_seconds=time.perf_counter() - started, epochs=len(curve), curve=tuple(curve),
            extra=extra, **common,
        )
    except (RuntimeError, MemoryError) as err:
        reason = (f"out of memory on {dev.type}" if _is_oom(err)
                  else f"runtime error: {str(err).splitlines()[0] if str(err) else type(err).__name__}")
        return Result.failure(
            reason, train_seconds=time.perf_counter() - started, epochs=len(curve), curve=tuple(curve),
            extra=dict(extra, error=traceback.format_exception_only(type(err), err)[-1].strip()), **common,
        )
    finally:
        del model, tens, opt
        torch.set_num_threads(old_threads)
        if dev.type == "cuda":
            torch.cuda.empty_cache()
