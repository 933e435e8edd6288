"""The engine must stay free of UI libraries and torch (DESIGN.md): checked in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys

ENGINE = ["nasbot_viz", "nasbot_viz.arch", "nasbot_viz.arch.zoo", "nasbot_viz.distance", "nasbot_viz.model",
          "nasbot_viz.acquisition", "nasbot_viz.optimise", "nasbot_viz.search", "nasbot_viz.store",
          "nasbot_viz.run", "nasbot_viz.analysis", "nasbot_viz.cli"]
FORBIDDEN = ["torch", "panel", "holoviews", "bokeh", "param", "graphviz"]


def test_engine_imports_no_ui_and_no_torch():
    code = (
        "import importlib, sys\n"
        f"for m in {ENGINE!r}:\n"
        "    importlib.import_module(m)\n"
        f"print(','.join(m for m in {FORBIDDEN!r} if m in sys.modules))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "", f"engine import loaded: {r.stdout.strip()}"
