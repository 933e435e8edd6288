"""`evaluate` as the run loop and the explorer use it: real training, curves, failures as results."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from nasbot_viz.arch.architecture import Architecture, Layer  # noqa: E402
from nasbot_viz.errors import TaskError  # noqa: E402
from nasbot_viz.records import EpochPoint, Result  # noqa: E402
from nasbot_viz.train import build_module, count_params, evaluate, get_task  # noqa: E402
from nasbot_viz.train import training  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
if not FIXTURES.is_dir():
    FIXTURES = Path(__file__).resolve().parent / "data"


def fixture(kind: str, i: int) -> Architecture:
    path = FIXTURES / f"otmann_reference_{kind}.json"
    if not path.exists():
        pytest.skip(f"fixture {path} not available")
    return Architecture.from_dict(json.loads(path.read_text())["networks"][i])


def small_cnn() -> Architecture:
    layers = [Layer("ip"), Layer("conv3", 16, 1), Layer("conv3", 32, 1), Layer("max-pool"),
              Layer("fc", 32), Layer("softmax"), Layer("op")]
    return Architecture.create("cnn", layers, [(i, i + 1) for i in range(6)], "small")


def test_a_reasonable_cnn_learns_digits_in_a_few_epochs():
    points: list[EpochPoint] = []
    r = evaluate(small_cnn(), "digits-cnn", epochs=3, seed=0, device="cpu", on_progress=points.append)
    assert r.ok, r.failure_reason
    assert 1 - r.value >= 0.9  # validation accuracy
    assert r.test_error is not None and r.test_error < 0.15
    assert r.epochs == 3 and [p.epoch for p in points] == [1, 2, 3]
    assert tuple(points) == r.curve and r.value == r.curve[-1].val_error
    assert r.curve[-1].train_loss < r.curve[0].train_loss
    assert r.device == "cpu" and r.train_seconds > 0
    assert r.num_params == count_params(build_module(small_cnn(), (1, 8, 8), 10))
    assert r.flops > 0
    Result.from_dict(json.loads(json.dumps(r.to_dict())))  # JSON round trip for the store


def test_deterministic_on_cpu_under_a_seed():
    arch = fixture("cnn", 2)  # branches and a stride-2 conv
    a = evaluate(arch, "digits-cnn", epochs=2, seed=3, device="cpu")
    b = evaluate(arch, "digits-cnn", epochs=2, seed=3, device="cpu")
    c = evaluate(arch, "digits-cnn", epochs=2, seed=4, device="cpu")
    assert [p.train_loss for p in a.curve] == [p.train_loss for p in b.curve]
    assert a.value == b.value and a.test_error == b.test_error
    assert [p.train_loss for p in a.curve] != [p.train_loss for p in c.curve]


def test_regression_objective_is_normalised_mse():
    r = evaluate(fixture("mlp", 0), "tabular-mlp", epochs=15)
    assert r.ok, r.failure_reason
    assert 0 < r.value < 0.5  # well below predicting the mean (about 1)


def test_the_same_cnn_trains_with_1d_convolutions_on_mnist1d():
    r = evaluate(fixture("cnn", 0), "mnist1d-cnn", epochs=2)
    assert r.ok and r.value < 0.8  # chance is 0.9
    # 1-D convs: length 40, kernel 3, channels 1->16, 16->8 (twice), 16->32; max-pool to 20, fc pools
    # to 16 positions: 32*16 -> 16; softmax 16 -> 10
    assert r.flops == 40 * 3 * (1 * 16 + 16 * 8 + 16 * 8 + 16 * 32) + 32 * 16 * 16 + 16 * 10


def test_mnist1d_mlp_trains_on_its_features():
    r = evaluate(fixture("mlp", 1), get_task("mnist1d-mlp", lr=3e-3), epochs=1)
    assert r.ok and 0 < r.value < 0.9


def test_divergence_from_an_absurd_learning_rate_is_a_failed_result():
    r = evaluate(small_cnn(), get_task("digits-cnn", lr=1e10), epochs=3)
    assert not r.ok and r.value is None
    assert r.failure_reason.startswith("diverged")


def test_injected_nan_loss_is_a_failed_result(monkeypatch):
    class NaNLoss(torch.nn.Module):
        def forward(self, out, y):
            return out.sum() * float("nan")

    monkeypatch.setattr(training, "loss_function", lambda problem: NaNLoss())
    r = evaluate(small_cnn(), "digits-cnn", epochs=2)
    assert not r.ok and "diverged" in r.failure_reason and r.epochs == 0


def test_exploding_regression_is_a_failed_result():
    r = evaluate(fixture("mlp", 0), get_task("tabular-mlp", lr=1e6), epochs=2)
    assert not r.ok and r.failure_reason.startswith("diverged")


def test_time_limit_gives_a_failed_result_with_the_curve_so_far():
    seen: list[EpochPoint] = []
    r = evaluate(fixture("cnn", 0), "digits-cnn", epochs=200, time_limit=0.3, on_progress=seen.append)
    assert not r.ok and r.failure_reason.startswith("time limit")
    assert r.epochs == len(r.curve) == len(seen) < 200


def test_too_large_and_wrong_kind_are_failed_results():
    r = evaluate(fixture("cnn", 7), get_task("digits-cnn", max_params=100_000))  # VGG: 5.2 M parameters
    assert not r.ok and r.failure_reason.startswith("too large") and r.num_params > 100_000
    r = evaluate(fixture("mlp", 0), "digits-cnn")
    assert not r.ok and r.failure_reason.startswith("wrong kind")
    r = evaluate(small_cnn(), "synthetic-mlp")
    assert not r.ok and r.failure_reason.startswith("wrong kind")


@pytest.mark.parametrize("error", [
    lambda: torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
    lambda: RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory"),
    lambda: MemoryError(),
])
def test_out_of_memory_is_a_failed_result(monkeypatch, error):
    def explode(*args, **kwargs):
        raise error()

    monkeypatch.setattr(training, "build_module", explode)
    r = evaluate(small_cnn(), "digits-cnn", epochs=1)
    assert not r.ok and r.failure_reason.startswith("out of memory")


def test_threads_are_limited_during_and_restored_after(monkeypatch):
    before = torch.get_num_threads()
    during: list[int] = []
    evaluate(small_cnn(), "digits-cnn", epochs=1, threads=1, on_progress=lambda p: during.append(torch.get_num_threads()))
    assert during == [1] and torch.get_num_threads() == before


def test_bad_arguments_raise_task_errors():
    with pytest.raises(TaskError, match="epochs"):
        evaluate(small_cnn(), "digits-cnn", epochs=0)
    with pytest.raises(TaskError, match="device"):
        evaluate(small_cnn(), "digits-cnn", device="tpu")
    with pytest.raises(TaskError, match="unknown task"):
        evaluate(small_cnn(), "digits-cnnn")


def test_architecture_may_be_given_as_its_dict():
    r = evaluate(small_cnn().to_dict(), "synthetic-cnn")
    assert r.ok and r.value == evaluate(small_cnn(), "synthetic-cnn").value


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU error")
def test_forcing_cuda_without_a_gpu_is_a_clear_error():
    with pytest.raises(TaskError, match="CUDA is not available"):
        evaluate(small_cnn(), "digits-cnn", epochs=1, device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_path_trains_on_the_gpu():
    r = evaluate(small_cnn(), "digits-cnn", epochs=3, device="cuda")
    assert r.ok and r.device == "cuda" and 1 - r.value >= 0.9
    auto = evaluate(small_cnn(), "digits-cnn", epochs=1, device="auto")
    assert auto.device == "cuda"


def test_auto_device_is_cpu_without_a_gpu():
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert evaluate(small_cnn(), "digits-cnn", epochs=1).device == "cpu"


# ------------------------------------------------------------------------------------ synthetic
def test_synthetic_tasks_are_deterministic_and_structured():
    a = fixture("cnn", 0)
    r1, r2 = evaluate(a, "synthetic-cnn"), evaluate(a, "synthetic-cnn", seed=5)
    assert r1.ok and r1.value == r2.value  # no noise by default
    assert 0 < r1.value < 1 and len(r1.curve) == get_task("synthetic-cnn").default_epochs
    assert evaluate(a, "synthetic-cnn", epochs=2).value > r1.value  # fewer epochs: worse
    noisy = get_task("synthetic-cnn", noise=0.02)
    assert evaluate(a, noisy, seed=1).value != evaluate(a, noisy, seed=2).value
    assert evaluate(a, noisy, seed=1).value == evaluate(a, noisy, seed=1).value


def _cnn_chain(n_conv: int, units: int, label: str = "conv3") -> Architecture:
    layers = [Layer("ip")] + [Layer(label, units, 1) for _ in range(n_conv)]
    layers += [Layer("max-pool"), Layer("fc", 128), Layer("softmax"), Layer("op")]
    return Architecture.create("cnn", layers, [(i, i + 1) for i in range(len(layers) - 1)])


def test_synthetic_landscape_rewards_depth_width_and_skips_towards_an_optimum():
    value = lambda a: evaluate(a, "synthetic-cnn").value  # noqa: E731
    depths = [value(_cnn_chain(d, 64)) for d in (2, 5, 9, 14, 20)]
    assert depths.index(min(depths)) == 2  # optimum depth 9, worse on both sides
    widths = [value(_cnn_chain(9, w)) for w in (8, 64, 256)]
    assert widths[1] < widths[0] and widths[1] < widths[2]
    chain = _cnn_chain(6, 64)
    layers = list(chain.layers)
    skipped = Architecture.create("cnn", layers, list(chain.edges) + [(1, 4), (2, 6)])
    assert value(skipped) < value(chain)
    mlp = evaluate(fixture("mlp", 0), "synthetic-mlp")
    assert mlp.ok and mlp.num_params > 0


def test_synthetic_evaluate_needs_no_torch():
    code = (
        "import sys, json\n"
        "from nasbot_viz.arch.architecture import Architecture\n"
        "from nasbot_viz.train import evaluate, get_task, TASKS\n"
        f"d = json.load(open({str(FIXTURES / 'otmann_reference_cnn.json')!r}))['networks'][0]\n"
        "r = evaluate(Architecture.from_dict(d), 'synthetic-cnn')\n"
        "assert r.ok\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_evaluate_and_tasks_travel_to_process_pools():
    task = get_task("synthetic-mlp", noise=0.01)
    assert pickle.loads(pickle.dumps(task)) == task
    arch = fixture("mlp", 2)
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        remote = pool.submit(evaluate, arch, task, 4, 1).result(timeout=60)
    assert remote == evaluate(arch, task, 4, 1)
