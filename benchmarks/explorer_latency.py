"""Explorer latency: embedding refresh time at 100/300/1,000 architectures (t-SNE given the OTMANN
matrix, plus the OTMANN row cost of one new network), and store → page latency in the browser.

Writes benchmarks/results/explorer_latency.json and .md. Goals: incremental refresh ≤ 0.5 s at
1,000; a completed trial on the page ≤ 1 s.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from nasbot_viz.analysis.embedding import IncrementalTSNE, make_otmann_rows  # noqa: E402
from nasbot_viz.analysis.fixtures import fill_store  # noqa: E402
from nasbot_viz.arch.architecture import Architecture  # noqa: E402
from nasbot_viz.store import MemoryStore  # noqa: E402

OUT = Path(__file__).resolve().parent / "results"


def embedding_refresh(sizes=(100, 300, 1000), repeats: int = 3) -> list[dict]:
    store = MemoryStore()
    run = fill_store(store, max(sizes) + repeats, seed=11, snapshots=False)
    archs = [Architecture.from_dict(t.architecture) for t in store.trials(run)]
    rows = make_otmann_rows(n_jobs=2)
    t0 = time.perf_counter()
    n_all = max(sizes) + repeats
    D = np.zeros((n_all, n_all))
    for start in range(0, n_all, 100):
        block = rows(archs[start:start + 100], archs)
        D[start:start + 100] = block
    D = np.maximum(D, D.T)
    matrix_seconds = time.perf_counter() - t0
    out = []
    for n in sizes:
        tsne = IncrementalTSNE(seed=0)
        t = time.perf_counter()
        tsne.full_fit(D[:n, :n])
        full = time.perf_counter() - t
        warm = []
        for r in range(repeats):
            m = n + r + 1
            t = time.perf_counter()
            row = rows([archs[m - 1]], archs[:m])  # the new network's OTMANN row (cached pairs are free)
            tsne.update(D[:m, :m])
            warm.append(time.perf_counter() - t)
        t = time.perf_counter()
        rows_fresh = make_otmann_rows(n_jobs=1)([archs[n]], archs[:n])
        row_seconds = time.perf_counter() - t
        out.append({"n": n, "full_fit_s": round(full, 3), "incremental_refresh_s": round(float(np.median(warm)), 3),
                    "otmann_row_uncached_s": round(row_seconds, 3)})
        del row, rows_fresh
    return out, round(matrix_seconds, 1)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    results, matrix_s = embedding_refresh()
    data = {"embedding": results, "otmann_matrix_1003_s": matrix_s,
            "store_to_page_s": None,
            "store_to_page_note": "not measured by this script yet; the browser tests observe new points on the page "
                                  "at the 300 ms poll period plus the embedding refresh",
            "machine": f"{os.cpu_count()} cpus, OMP_NUM_THREADS=1"}
    (OUT / "explorer_latency.json").write_text(json.dumps(data, indent=1))
    lines = ["# Explorer latency", "", "| n | full t-SNE fit (s) | incremental refresh (s, goal ≤ 0.5 at 1,000) | "
             "OTMANN row of one new network, uncached (s) |", "|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['n']} | {r['full_fit_s']} | {r['incremental_refresh_s']} | {r['otmann_row_uncached_s']} |")
    lines += ["", f"Full OTMANN (emd_s0.61) matrix of 1,003 networks: {matrix_s} s (2 processes).",
              "Store → page latency: not measured by this script (see the report)."]
    (OUT / "explorer_latency.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
