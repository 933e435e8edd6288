"""`nasbot-viz serve`: open the explorer in a browser (localhost only by default).

With no arguments it uses the embedded defaults: a SQLite store in ./runs and the digits-cnn task
preselected, so `make demo` → press Start works on a fresh checkout.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from nasbot_viz.errors import NasbotVizError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="open the live explorer (a Panel app) in the browser")
    p.add_argument("--store", metavar="DIR_OR_FILE", default="runs",
                   help="run store folder (a nasbot.sqlite file is created in it) or .sqlite file (default: ./runs)")
    p.add_argument("--port", type=int, default=5006, help="port to listen on (default 5006; 0 picks a free one)")
    p.add_argument("--address", default="localhost",
                   help="interface to listen on (default localhost: only this machine can connect)")
    p.add_argument("--run", metavar="RUN_ID", default=None, help="open this run of the store at start")
    p.add_argument("--task", default="digits-cnn", help="task preselected on the page (default digits-cnn)")
    p.add_argument("--show", dest="show", action="store_true", default=True, help="open a browser tab (default)")
    p.add_argument("--no-show", dest="show", action="store_false", help="do not open a browser tab")
    p.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    if not (0 <= args.port <= 65535):
        raise NasbotVizError(f"--port must be between 0 and 65535, got {args.port}")
    store = Path(args.store)
    if store.exists() and not store.is_dir() and store.suffix not in (".sqlite", ".db", ".sqlite3"):
        raise NasbotVizError(f"--store {args.store}: not a folder or a .sqlite file")
    from nasbot_viz.train import TASKS

    if args.task not in TASKS or ":" in args.task:
        raise NasbotVizError(f"--task {args.task!r}: unknown task; choose one of {', '.join(t for t in TASKS if ':' not in t)}")
    from nasbot_viz.ui.app import serve

    serve(store, port=args.port, address=args.address, show=args.show, run_id=args.run, task=args.task)
    return 0
