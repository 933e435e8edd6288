"""The constraint checker (reference §7.4): defaults, each limit with a violating network, JSON."""

from __future__ import annotations

import json
import math

import pytest

from nasbot_viz.arch import Architecture, layer_masses
from nasbot_viz.arch.constraints import Constraints, InvalidConstraints
from nasbot_viz.errors import ConstraintViolation, NasbotVizError


def chain(kind: str, specs: list[tuple], out: str | None = None) -> Architecture:
    """ip → specs… → softmax/linear → op, each spec (label, units, stride)."""
    out = out or ("softmax" if kind == "cnn" else "linear")
    layers = [{"label": "ip"}]
    for s in specs:
        layers.append({"label": s[0], "units": s[1] if len(s) > 1 else None, "stride": s[2] if len(s) > 2 else None})
    layers += [{"label": out}, {"label": "op"}]
    return Architecture.create(kind, layers, [(i, i + 1) for i in range(len(layers) - 1)])


def fan(kind: str, width: int, label: str = "conv3", units: int = 16) -> Architecture:
    """ip → `width` parallel layers → one joining layer → output: in/out-degree `width`."""
    stride = 1 if kind == "cnn" else None
    join = ("conv3" if kind == "cnn" else "relu")
    layers = [{"label": "ip"}] + [{"label": label, "units": units, "stride": stride}] * width
    layers += [{"label": join, "units": units, "stride": stride}]
    layers += [{"label": "fc", "units": units}] if kind == "cnn" else []
    layers += [{"label": "softmax" if kind == "cnn" else "linear"}, {"label": "op"}]
    edges = [(0, i) for i in range(1, width + 1)] + [(i, width + 1) for i in range(1, width + 1)]
    edges += [(i, i + 1) for i in range(width + 1, len(layers) - 1)]
    return Architecture.create(kind, layers, edges)


SMALL_CNN = [("conv3", 16, 1), ("conv3", 32, 1), ("max-pool",), ("fc", 64)]


def test_defaults_are_the_nasbot_demo_values():
    c = Constraints()
    assert (c.max_num_layers, c.min_num_layers) == (60, 5)
    assert (c.max_mass, c.min_mass) == (math.inf, 0)
    assert (c.max_in_degree, c.max_out_degree, c.max_num_edges) == (5, 55, 200)
    assert (c.max_units, c.min_units, c.max_num_2strides) == (1024, 8, None)


def test_reference_networks_satisfy_the_defaults(reference):
    c = Constraints()
    for net in reference["networks"]:
        arch = Architecture.from_dict(net)
        assert c.violations(arch) == [], net["name"]
        assert c.is_satisfied(arch) and c(arch)
        c.check(arch)


def _only(c: Constraints, arch: Architecture) -> str:
    v = c.violations(arch)
    assert len(v) == 1, v
    assert not c.is_satisfied(arch)
    with pytest.raises(ConstraintViolation) as err:
        c.check(arch)
    assert err.value.violations == v
    return v[0]


def test_max_and_min_num_layers():
    arch = chain("cnn", SMALL_CNN)  # 7 layers
    msg = _only(Constraints(max_num_layers=6), arch)
    assert "7 layers" in msg and "max_num_layers=6" in msg
    small = chain("mlp", [("relu", 16)])  # 4 layers
    msg = _only(Constraints(), small)
    assert "4 layers" in msg and "min_num_layers=5" in msg


def test_max_and_min_mass():
    arch = chain("cnn", SMALL_CNN)
    mass = float(layer_masses(arch).sum())
    msg = _only(Constraints(max_mass=mass - 1), arch)
    assert f"{mass:g}" in msg and "max_mass" in msg
    msg = _only(Constraints(min_mass=mass + 1), arch)
    assert f"{mass:g}" in msg and "min_mass" in msg
    assert Constraints(max_mass=mass, min_mass=mass).is_satisfied(arch)


def test_in_degree_out_degree_and_edges():
    wide = fan("cnn", 6)
    v = Constraints().violations(wide)
    assert len(v) == 1 and "in-degree 6" in v[0] and "max_in_degree=5" in v[0] and "layer 7 (conv3)" in v[0]
    msg = _only(Constraints(max_out_degree=3, max_in_degree=10), wide)
    assert "out-degree 6" in msg and "max_out_degree=3" in msg and "layer 0 (ip)" in msg
    arch = chain("cnn", SMALL_CNN)
    msg = _only(Constraints(max_num_edges=5), arch)
    assert "6 edges" in msg and "max_num_edges=5" in msg


def test_units_bounds():
    big = chain("cnn", [("conv3", 2000, 1), ("fc", 64)])
    msg = _only(Constraints(), big)
    assert "layer 1 (conv3) has 2000 units" in msg and "max_units=1024" in msg
    tiny = chain("mlp", [("relu", 16), ("tanh", 4), ("relu", 16)])
    msg = _only(Constraints(), tiny)
    assert "layer 2 (tanh) has 4 units" in msg and "min_units=8" in msg


def test_max_num_2strides_counts_pools_and_stride_2_convs():
    arch = chain("cnn", [("conv3", 16, 2), ("max-pool",), ("conv3", 16, 1), ("avg-pool",), ("fc", 32)])
    assert max(s for s in arch.inverse_image_sizes if s) == 8
    msg = _only(Constraints(max_num_2strides=2), arch)
    assert "1/8" in msg and "max_num_2strides=2" in msg
    assert Constraints(max_num_2strides=3).is_satisfied(arch)
    # MLPs have no images: the limit does not apply.
    assert Constraints(max_num_2strides=0).is_satisfied(chain("mlp", [("relu", 16), ("relu", 16)]))


def test_check_lists_every_broken_limit_in_order():
    arch = chain("cnn", [("conv3", 2000, 1), ("conv3", 4, 1), ("fc", 16)])
    c = Constraints(max_num_layers=5, max_num_edges=3)
    v = c.violations(arch)
    assert [m.split("=")[0].split()[-1] for m in v] == ["max_num_layers", "max_num_edges", "max_units", "min_units"]
    with pytest.raises(ConstraintViolation, match="4 problems"):
        c.check(arch)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"min_num_layers": 10, "max_num_layers": 5}, "min_num_layers=10 is greater than max_num_layers=5"),
        ({"min_units": 64, "max_units": 32}, "min_units=64 is greater than max_units=32"),
        ({"min_mass": 10.0, "max_mass": 1.0}, "min_mass=10 is greater than max_mass=1"),
        ({"max_in_degree": -1}, "max_in_degree must be >= 0"),
        ({"max_units": "lots"}, "max_units must be a number"),
        ({"max_units": True}, "max_units must be a number"),
        ({"min_mass": math.nan}, "min_mass must be a number"),
        ({"min_units": math.inf}, "min_units must be finite"),
        ({"max_num_2strides": 1.5}, "max_num_2strides must be a non-negative integer"),
        ({"max_num_2strides": -1}, "max_num_2strides must be a non-negative integer"),
    ],
)
def test_nonsense_settings_are_refused_clearly(kwargs, fragment):
    with pytest.raises(InvalidConstraints) as err:
        Constraints(**kwargs)
    assert fragment in str(err.value)
    assert isinstance(err.value, NasbotVizError)


def test_json_round_trip_writes_unlimited_as_null():
    c = Constraints(max_num_layers=30, max_num_2strides=4, max_in_degree=math.inf)
    d = c.to_dict()
    assert d["max_mass"] is None and d["max_in_degree"] is None and d["max_num_2strides"] == 4
    text = json.dumps(d, allow_nan=False)
    assert Constraints.from_dict(json.loads(text)) == c
    assert Constraints.from_dict({}) == Constraints()


def test_from_dict_rejects_unknown_keys_with_a_hint():
    with pytest.raises(InvalidConstraints, match="did you mean 'max_units'"):
        Constraints.from_dict({"max_unit": 10})
    with pytest.raises(InvalidConstraints, match="JSON object"):
        Constraints.from_dict([1, 2])


def test_constraints_are_frozen_and_hashable():
    c = Constraints()
    with pytest.raises(AttributeError):
        c.max_units = 5  # type: ignore[misc]
    assert hash(c) == hash(Constraints())
