"""Architecture: JSON round trip, canonical order, ids, every validity rule with its message,
path lengths and masses against the authors' numbers, and the zoo."""

from __future__ import annotations

import copy
import json
import pickle

import numpy as np
import pytest

from nasbot_viz.arch import Architecture, InvalidArchitectureError, layer_masses, path_lengths
from nasbot_viz.arch.zoo import initial_pool, library_examples


def chain_cnn(extra_layers=None, edges=None):
    layers = [
        {"label": "ip", "units": None, "stride": None},
        {"label": "conv3", "units": 16, "stride": 1},
        {"label": "max-pool", "units": None, "stride": None},
        {"label": "fc", "units": 32, "stride": None},
        {"label": "softmax", "units": None, "stride": None},
        {"label": "op", "units": None, "stride": None},
    ]
    if extra_layers:
        layers.extend(extra_layers)
    return {"kind": "cnn", "name": "chain", "layers": layers,
            "edges": edges if edges is not None else [[0, 1], [1, 2], [2, 3], [3, 4], [4, 5]]}


def chain_mlp():
    return {"kind": "mlp", "layers": [
        {"label": "ip", "units": None, "stride": None},
        {"label": "relu", "units": 16, "stride": None},
        {"label": "tanh", "units": 8, "stride": None},
        {"label": "linear", "units": None, "stride": None},
        {"label": "op", "units": None, "stride": None},
    ], "edges": [[0, 1], [1, 2], [2, 3], [3, 4]]}


def violations_of(d) -> list[str]:
    with pytest.raises(InvalidArchitectureError) as info:
        Architecture.from_dict(d)
    return info.value.violations


def test_fixture_networks_round_trip_in_their_own_order(reference):
    for net in reference["networks"]:
        arch = Architecture.from_dict(net)
        assert arch.to_dict()["layers"] == net["layers"]
        assert arch.to_dict()["edges"] == [list(e) for e in net["edges"]]
        again = Architecture.from_dict(json.loads(arch.to_json()))
        assert again == arch and again.id == arch.id


def test_canonical_order_makes_the_id_independent_of_layer_numbering():
    d = chain_cnn()
    # Same network with layers listed backwards.
    n = len(d["layers"])
    perm = list(reversed(range(n)))
    shuffled = {"kind": "cnn", "layers": [d["layers"][perm[i]] for i in range(n)],
                "edges": [[perm.index(u), perm.index(v)] for u, v in d["edges"]]}
    a, b = Architecture.from_dict(d), Architecture.from_dict(shuffled)
    assert a.id == b.id
    assert b.labels[0] == "ip" and b.labels[-1] == "op"
    assert all(u < v for u, v in b.edges)


def test_id_ignores_name_but_not_content():
    a = Architecture.from_dict(chain_cnn())
    assert a.with_name("other").id == a.id
    d = chain_cnn()
    d["layers"][1]["units"] = 17
    assert Architecture.from_dict(d).id != a.id


def test_architecture_is_frozen_and_picklable():
    a = Architecture.from_dict(chain_cnn())
    with pytest.raises(Exception):
        a.kind = "mlp"  # type: ignore[misc]
    b = pickle.loads(pickle.dumps(a))
    assert b == a and b.id == a.id


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda d: d["edges"].append([3, 1]), "cycle"),
        (lambda d: d["layers"].__setitem__(1, {"label": "conv4", "units": 16, "stride": 1}), "did you mean 'conv"),
        (lambda d: d["layers"].__setitem__(1, {"label": "relu", "units": 16, "stride": 1}), "is a MLP label"),
        (lambda d: d["layers"].__setitem__(0, {"label": "conv3", "units": 8, "stride": 1}), "no input layer 'ip'"),
        (lambda d: d["layers"].__setitem__(5, {"label": "softmax", "units": None, "stride": None}), "no output layer 'op'"),
        (lambda d: (d["layers"].append({"label": "ip", "units": None, "stride": None}), d["edges"].append([6, 1])), "2 input layers"),
        (lambda d: (d["layers"].append({"label": "conv3", "units": 8, "stride": 1}),), "layer 6 (conv3) is unreachable"),
        (lambda d: (d["layers"].append({"label": "conv3", "units": 8, "stride": 1}), d["edges"].append([1, 6])), "does not lead to the output"),
        (lambda d: (d["layers"].insert(4, {"label": "conv3", "units": 8, "stride": 1}),
                    d.__setitem__("edges", [[0, 1], [1, 2], [2, 3], [3, 4], [4, 5], [5, 6]])), "follows an fc layer"),
        (lambda d: d["layers"][1].__setitem__("units", 0), "units must be > 0"),
        (lambda d: d["layers"][1].__setitem__("units", -4), "units must be > 0"),
        (lambda d: d["layers"][1].__setitem__("stride", 3), "strides must be 1 or 2"),
        (lambda d: d["layers"][2].__setitem__("stride", 2), "must have stride null"),
        (lambda d: d["layers"][4].__setitem__("units", 10), "must have units null"),
        (lambda d: d["edges"].append([0, 2]), "follows the input layer; only conv/res"),
        (lambda d: d["edges"].append([7, 7]), "does not exist"),
        (lambda d: d["edges"].append([1, 1]), "self-loop"),
        (lambda d: d["edges"].append([0, 1]), "appears twice"),
        (lambda d: d["edges"].append([3, 5]), "feeds the output layer; only softmax"),
        (lambda d: d["layers"][1].__setitem__("units", "16"), "'units' must be an integer"),
        (lambda d: d["layers"][1].__setitem__("label", 3), "'label' must be a string"),
        (lambda d: d.__setitem__("kind", "rnn"), "'kind' must be one of"),
        (lambda d: d.__setitem__("edges", [[0, "a"]]), "must be a pair of integer"),
        (lambda d: d.__setitem__("layers", []), "'layers' must be a non-empty list"),
    ],
)
def test_every_rule_names_the_fault(mutate, expected):
    d = copy.deepcopy(chain_cnn())
    mutate(d)
    found = violations_of(d)
    assert any(expected in v for v in found), found


def test_image_size_mismatch_between_parents_is_reported():
    d = chain_cnn()
    # ip -> conv(s1) -> join ; ip -> conv(s2) -> join : parents at sizes 1/1 and 1/2.
    d["layers"] = [
        {"label": "ip", "units": None, "stride": None},
        {"label": "conv3", "units": 8, "stride": 1},
        {"label": "conv3", "units": 8, "stride": 2},
        {"label": "conv3", "units": 8, "stride": 1},
        {"label": "fc", "units": 8, "stride": None},
        {"label": "softmax", "units": None, "stride": None},
        {"label": "op", "units": None, "stride": None},
    ]
    d["edges"] = [[0, 1], [0, 2], [1, 3], [2, 3], [3, 4], [4, 5], [5, 6]]
    found = violations_of(d)
    assert any("layer 3 (conv3) joins parents with different image sizes" in v for v in found), found


def test_several_violations_are_all_listed():
    d = chain_cnn()
    d["layers"][1]["units"] = 0
    d["layers"][3]["label"] = "fully"
    found = violations_of(d)
    assert len(found) >= 2
    message = str(InvalidArchitectureError(found, "x"))
    assert "problems" in message and "units must be > 0" in message


def test_mlp_rules():
    assert Architecture.from_dict(chain_mlp()).kind == "mlp"
    d = chain_mlp()
    d["layers"][1]["label"] = "conv3"
    assert any("unknown MLP label 'conv3'" in v for v in violations_of(d))
    d = chain_mlp()
    d["layers"][2]["units"] = None
    assert any("needs a positive number of units" in v for v in violations_of(d))
    d = chain_mlp()
    d["edges"] = [[0, 1], [1, 2], [2, 3], [3, 4], [2, 4]]
    assert any("feeds the output layer; only linear or softmax" in v for v in violations_of(d))


def test_malformed_json_and_wrong_types_raise_clear_errors():
    with pytest.raises(InvalidArchitectureError, match="malformed JSON"):
        Architecture.from_json('{"kind": "cnn", ')
    with pytest.raises(InvalidArchitectureError, match="must be a JSON object"):
        Architecture.from_dict([1, 2, 3])
    with pytest.raises(InvalidArchitectureError, match="layer 2 must be an object"):
        d = chain_cnn()
        d["layers"][2] = "conv3"
        Architecture.from_dict(d)


def test_path_lengths_and_masses_reproduce_the_authors(reference):
    per_net = reference["layer_path_lengths"]["per_network"]
    for k, net in enumerate(reference["networks"]):
        arch = Architecture.from_dict(net)
        bkwd, fwd = path_lengths(arch)
        np.testing.assert_allclose(bkwd, per_net[k]["bkwd_ip"], rtol=0, atol=1e-12)
        np.testing.assert_allclose(fwd, per_net[k]["fwd_op"], rtol=0, atol=1e-12)
        expected = np.asarray(reference["layer_masses"][k])
        assert np.all(np.abs(layer_masses(arch) - expected) <= 1e-9 * np.maximum(1, np.abs(expected)))


def test_cnn_1_masses_match_the_worked_example():
    cnn_1 = library_examples("cnn")[0]
    np.testing.assert_allclose(layer_masses(cnn_1), [100, 16, 128, 128, 512, 32, 51.2, 100, 100])


def test_zoo_builds_the_authors_library_examples(reference):
    kind = reference["networks"][0]["kind"]
    ours = library_examples(kind)
    assert [a.id for a in ours] == [Architecture.from_dict(n).id for n in reference["networks"]]


def test_initial_pools_have_the_papers_sizes():
    cnns, mlps = initial_pool("cnn"), initial_pool("mlp")
    assert len(cnns) == 12 and len(mlps) == 10
    assert len({a.id for a in cnns}) == 12 and len({a.id for a in mlps}) == 10
    assert all(a.kind == "cnn" for a in cnns) and all(a.kind == "mlp" for a in mlps)
    assert initial_pool("mlp", seed=0)[0].id == initial_pool("mlp", seed=0)[0].id
    assert all(a.labels[-2] == "softmax" for a in initial_pool("mlp", regression=False))
