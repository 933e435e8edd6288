"""Times the authors' OTMANN (dragonfly-opt 0.1.7) on networks given as JSON.

Runs inside benchmarks/.venv-dragonfly (numpy<2), so it imports nothing from nasbot_viz.
Usage: python _dragonfly_otmann.py networks.json out.npz sizes(comma) base newcomers
  networks.json: {"networks": [our JSON networks]}; the first `base` are the set, then newcomers.
Writes out.npz with the timings and every distance computed, for the exactness check.
"""

import json
import sys
import time
import warnings

import numpy as np
from scipy.sparse import dok_matrix

warnings.filterwarnings("ignore")
from dragonfly.nn import otmann  # noqa: E402
from dragonfly.nn.neural_network import ConvNeuralNetwork, MultiLayerPerceptron, get_cnn_layer_labels, get_mlp_layer_labels  # noqa: E402


def to_dragonfly(d):
    n = len(d["layers"])
    labels = [x["label"] for x in d["layers"]]
    conn = dok_matrix((n, n))
    for i, j in d["edges"]:
        conn[i, j] = 1
    units = [x["units"] for x in d["layers"]]
    if d["kind"] == "cnn":
        strides = [x["stride"] for x in d["layers"]]
        return ConvNeuralNetwork(labels, conn, units, strides, get_cnn_layer_labels())
    reg = "linear" in labels
    cr = "reg" if reg else "class"
    return MultiLayerPerceptron(cr, labels, conn, units, get_mlp_layer_labels(cr))


def main():
    path, out, sizes, base, newcomers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    data = json.load(open(path))["networks"]
    kind = data[0]["kind"]
    t = time.perf_counter()
    nets = [to_dragonfly(d) for d in data]
    build = time.perf_counter() - t
    tp_comp = otmann.get_default_otmann_distance_computer("cnn" if kind == "cnn" else "mlp-reg")
    result = {"build_s": build, "num_networks": len(nets)}
    for n in [int(s) for s in sizes.split(",") if s]:
        X = nets[:n]
        t, c = time.perf_counter(), time.process_time()
        mats = tp_comp(X, X)
        result[f"matrix_{n}_s"] = time.perf_counter() - t
        result[f"matrix_{n}_cpu_s"] = time.process_time() - c
        result[f"matrix_{n}"] = np.array(mats)
        print(f"dragonfly {n}x{n}: {result[f'matrix_{n}_s']:.2f} s", flush=True)
    X = nets[:base]
    times, cpu, rows = [], [], []
    for k in range(newcomers):
        new = nets[base + k]
        t, c = time.perf_counter(), time.process_time()
        row = tp_comp([new], X)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        rows.append(np.array(row)[:, 0, :])
    result["add_one_s"] = np.array(times)
    result["add_one_cpu_s"] = np.array(cpu)
    result["add_one_rows"] = np.array(rows)
    print(f"dragonfly add one to {base}: median {np.median(times):.3f} s", flush=True)
    np.savez(out, **result)


if __name__ == "__main__":
    main()
