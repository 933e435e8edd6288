"""`nasbot-viz validate` and `nasbot-viz distance`: architecture files in, one clear line each out."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nasbot_viz.errors import InvalidArchitectureError, NasbotVizError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check architecture JSON files against every validity rule")
    p.add_argument("files", nargs="+", metavar="FILE", help="architecture JSON files")
    p.add_argument("--constraints", action="store_true",
                   help="also check the search-space constraints (the NASBOT demo defaults)")
    p.set_defaults(handler=_validate)

    p = sub.add_parser("distance", help="the 8 OTMANN distances between two architectures")
    p.add_argument("a", metavar="A.json")
    p.add_argument("b", metavar="B.json")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(handler=_distance)


def load_architecture(path: str):
    """Read one architecture file; every failure is an `InvalidArchitectureError` naming the file."""
    from nasbot_viz.arch import Architecture

    file = Path(path)
    if not file.is_file():
        raise InvalidArchitectureError(f"{path}: no such file")
    try:
        text = file.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise InvalidArchitectureError(f"{path}: cannot read ({err})") from None
    try:
        return Architecture.from_json(text)
    except InvalidArchitectureError as err:
        raise InvalidArchitectureError(err.violations, path) from None


def _summary(arch) -> str:
    from nasbot_viz.arch import layer_masses

    return (f"{arch.kind.upper()}, {arch.num_layers} layers, {len(arch.edges)} edges, "
            f"{arch.num_processing_layers} processing, mass {layer_masses(arch).sum():.6g}, id {arch.id}")


def _validate(args: argparse.Namespace) -> int:
    constraints = None
    if args.constraints:
        from nasbot_viz.arch.constraints import Constraints

        constraints = Constraints()
    bad = 0
    for path in args.files:
        try:
            arch = load_architecture(path)
            if constraints is not None:
                problems = constraints.violations(arch)
                if problems:
                    raise InvalidArchitectureError(problems, path)
        except InvalidArchitectureError as err:
            bad += 1
            for v in err.violations:
                print(f"{path}: INVALID: {v}")
            continue
        print(f"{path}: ok: {_summary(arch)}")
    return 2 if bad else 0


def _distance(args: argparse.Namespace) -> int:
    from nasbot_viz.distance import VARIANTS, otmann

    a, b = load_architecture(args.a), load_architecture(args.b)
    if a.kind != b.kind:
        raise NasbotVizError(f"cannot compare a {a.kind.upper()} ({args.a}) with an {b.kind.upper()} ({args.b})")
    result = otmann(a, b)
    if args.json:
        json.dump({"a": args.a, "b": args.b, "distances": {k: result.distances[k] for k in VARIANTS}},
                  sys.stdout, indent=2)
        print()
        return 0
    print(f"OTMANN distance between {args.a} ({a.num_layers} layers) and {args.b} ({b.num_layers} layers)")
    print(f"{'variant':<11} {'value':>20}")
    for k in VARIANTS:
        print(f"{k:<11} {result.distances[k]:>20.10g}")
    print("lp = unnormalised transport cost; emd = lp / (total mass of both networks), in [0, 1].")
    return 0
