"""`panel serve apps/explorer.py`: the NASBOT explorer on the ./runs store (override with
`--args --store DIR_OR_FILE`)."""

import sys

from nasbot_viz.ui.app import build_app

store = sys.argv[sys.argv.index("--store") + 1] if "--store" in sys.argv else "runs"
build_app(store).servable()
