"""Run every benchmark in turn (what `make bench` does); each writes benchmarks/results/NAME.{json,md}.

    .venv/bin/python benchmarks/run_all.py             # all of them (tens of minutes on 2 cores)
    .venv/bin/python benchmarks/run_all.py otmann_speed proposal_latency

The GPU check (`gpu_check.py`) is left out: it is for a machine with a GPU, run by hand there.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = (
    "otmann_speed",
    "otmann_alternatives",
    "proposal_latency",
    "evaluation_cost",
    "run_overhead",
    "explorer_latency",
)


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    failed = []
    for name in names:
        print(f"== {name}", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, str(HERE / f"{name}.py")])
        print(f"== {name}: exit {rc} after {time.perf_counter() - t0:.0f} s", flush=True)
        if rc:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
