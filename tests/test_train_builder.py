"""Every network we know of becomes a torch module that runs forward with the right shapes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from nasbot_viz.arch.architecture import Architecture, Layer  # noqa: E402
from nasbot_viz.errors import InvalidArchitectureError  # noqa: E402
from nasbot_viz.train import build_module, count_flops, count_params, plan_network  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
if not FIXTURES.is_dir():
    FIXTURES = Path(__file__).resolve().parent / "data"


def fixture_networks(kind: str) -> list[Architecture]:
    path = FIXTURES / f"otmann_reference_{kind}.json"
    if not path.exists():
        pytest.skip(f"fixture {path} not available")
    return [Architecture.from_dict(n) for n in json.loads(path.read_text())["networks"]]


def forward(arch: Architecture, shape: tuple[int, ...], outputs: int, batch: int = 2) -> torch.Tensor:
    module = build_module(arch, shape, outputs)
    module.eval()
    with torch.no_grad():
        return module(torch.randn(batch, *shape)), module


@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 32, 32), (1, 40), (2, 7)])
def test_every_fixture_cnn_runs_on_images_and_sequences(shape):
    for arch in fixture_networks("cnn"):
        out, module = forward(arch, shape, 10)
        assert out.shape == (2, 10), arch.name
        assert torch.isfinite(out).all()
        conv_cls = torch.nn.Conv2d if len(shape) == 3 else torch.nn.Conv1d
        assert any(isinstance(m, conv_cls) for m in module.modules())
        # the plan's parameter count is exactly the module's
        assert count_params(module) == plan_network(arch, shape, 10).num_params


@pytest.mark.parametrize("shape,outputs", [((64,), 10), ((10,), 1), ((1, 8, 8), 3)])
def test_every_fixture_mlp_runs(shape, outputs):
    for arch in fixture_networks("mlp"):
        out, module = forward(arch, shape, outputs)
        assert out.shape == (2, outputs), arch.name
        assert count_params(module) == plan_network(arch, shape, outputs).num_params


def _chain(kind, specs):
    layers = [Layer("ip")] + [Layer(*s) for s in specs] + [Layer("op")]
    return Architecture.create(kind, layers, [(i, i + 1) for i in range(len(layers) - 1)])


def test_in_channels_are_the_sum_of_the_parents_out_channels():
    # ip -> conv3(5) and conv5(7) -> conv3(4) joins them: its conv sees 5 + 7 = 12 channels
    layers = [Layer("ip"), Layer("conv3", 5, 1), Layer("conv5", 7, 1), Layer("conv3", 4, 1),
              Layer("max-pool"), Layer("fc", 6), Layer("softmax"), Layer("op")]
    edges = [(0, 1), (0, 2), (1, 3), (2, 3), (3, 4), (4, 5), (5, 6), (6, 7)]
    arch = Architecture.create("cnn", layers, edges)
    module = build_module(arch, (2, 8, 8), 10)
    join = module.blocks[arch.labels.index("conv3", 2)]
    convs = [m for m in join.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs[0].in_channels == 12 and convs[0].out_channels == 4
    first = [m for m in module.blocks[1].modules() if isinstance(m, torch.nn.Conv2d)][0]
    assert first.in_channels == 2  # the input layer adapts to the data's channels
    plan = plan_network(arch, (2, 8, 8), 10)
    pool = plan.layers[arch.labels.index("max-pool")]
    assert pool.in_channels == pool.out_channels == 4 and pool.spatial == (4, 4)  # pooling keeps channels


def test_crelu_doubles_features_and_every_activation_builds():
    acts = ["relu", "crelu", "leaky-relu", "softplus", "elu", "logistic", "tanh"]
    arch = _chain("mlp", [(a, 6) for a in acts] + [("linear",)])
    plan = plan_network(arch, (5,), 2)
    assert plan.layers[2].out_channels == 12  # crelu: concat(relu(x), relu(-x))
    assert plan.layers[3].in_channels == 12
    out, _ = forward(arch, (5,), 2)
    assert out.shape == (2, 2)


def test_residual_blocks_project_when_channels_or_stride_change():
    arch = _chain("cnn", [("res3", 8, 1), ("res5", 8, 1), ("res7", 16, 2), ("softmax",)])
    module = build_module(arch, (1, 9, 9), 4)
    blocks = [module.blocks[i] for i in (1, 2, 3)]
    assert isinstance(blocks[1].skip, torch.nn.Identity)  # same channels, stride 1
    assert not isinstance(blocks[0].skip, torch.nn.Identity)  # 1 -> 8 channels
    assert not isinstance(blocks[2].skip, torch.nn.Identity)  # stride 2
    assert plan_network(arch, (1, 9, 9), 4).layers[3].spatial == (5, 5)  # ceil(9 / 2)
    out, _ = forward(arch, (1, 9, 9), 4)
    assert out.shape == (2, 4)


def test_deep_pooling_chains_never_reach_size_zero():
    specs = [("conv3", 4, 2)] + [("max-pool",), ("avg-pool",)] * 4 + [("conv3", 4, 2), ("fc", 8), ("softmax",)]
    arch = _chain("cnn", specs)
    plan = plan_network(arch, (1, 8, 8), 10)
    assert min(min(p.spatial) for p in plan.layers if p.spatial) == 1
    out, _ = forward(arch, (1, 8, 8), 10, batch=3)
    assert out.shape == (3, 10)
    out, _ = forward(arch, (1, 5), 10)
    assert out.shape == (2, 10)


def test_several_softmax_layers_average_their_logits():
    layers = [Layer("ip"), Layer("conv3", 4, 1), Layer("fc", 8), Layer("softmax"), Layer("softmax"), Layer("op")]
    edges = [(0, 1), (1, 2), (2, 3), (2, 4), (3, 5), (4, 5)]
    arch = Architecture.create("cnn", layers, edges)
    module = build_module(arch, (1, 6, 6), 3).eval()
    x = torch.randn(2, 1, 6, 6)
    with torch.no_grad():
        h = module.blocks[2]([module.blocks[1](x)])
        expected = (module.blocks[3](h) + module.blocks[4](h)) / 2
        assert torch.allclose(module(x), expected, atol=1e-6)


def test_flops_count_conv_and_linear_multiply_accumulates():
    arch = _chain("cnn", [("conv3", 4, 1), ("softmax",)])
    # conv: 8*8 positions * 9 * 1 * 4; softmax: 4 -> 10
    assert count_flops(arch, (1, 8, 8), 10) == 64 * 9 * 4 + 40
    assert count_flops(build_module(arch, (1, 8, 8), 10)) == 64 * 9 * 4 + 40
    mlp = _chain("mlp", [("relu", 7), ("linear",)])
    assert count_flops(mlp, (3,), 1) == 21 + 7


def test_a_cnn_needs_image_or_sequence_shaped_data():
    arch = fixture_networks("cnn")[0]
    with pytest.raises(InvalidArchitectureError, match="sequence"):
        plan_network(arch, (64,), 10)


def _modified_networks(kind: str, count: int) -> list[Architecture]:
    modifiers = pytest.importorskip("nasbot_viz.arch.modifiers")
    from nasbot_viz.arch import zoo
    from nasbot_viz.arch.constraints import Constraints

    rng = np.random.default_rng(7)
    constraints = Constraints(max_units=64, max_num_layers=30)
    seeds = zoo.small_cnns() if kind == "cnn" else zoo.small_mlps()
    pool = list(seeds)
    out: list[Architecture] = []
    while len(out) < count:
        parent = pool[rng.integers(len(pool))]
        made = modifiers.mutate(parent, rng, constraints)
        if made is None:
            continue
        child = made[0]
        out.append(child)
        pool.append(child)
    return out


@pytest.mark.parametrize("kind,shapes", [("cnn", [(1, 8, 8), (1, 12)]), ("mlp", [(6,)])])
def test_hundreds_of_randomly_modified_networks_run_forward(kind, shapes):
    nets = _modified_networks(kind, 200)
    assert len({a.id for a in nets}) > 150  # really different networks
    for arch in nets:
        for shape in shapes:
            out, module = forward(arch, shape, 5)
            assert out.shape == (2, 5), arch.to_json()
            assert torch.isfinite(out).all()
            assert count_params(module) == plan_network(arch, shape, 5).num_params


def test_backward_reaches_every_parameter():
    arch = fixture_networks("cnn")[10]  # multi-depth, two softmax heads, skip into fc
    module = build_module(arch, (1, 8, 8), 10)
    module(torch.randn(4, 1, 8, 8)).sum().backward()
    assert all(p.grad is not None and math.isfinite(float(p.grad.abs().sum())) for p in module.parameters())
