"""Explorer latency: embedding refresh time at 100/300/1,000 architectures (t-SNE given the OTMANN
matrix, plus the OTMANN row cost of one new network), and store → page latency in a real browser.

Store → page: `panel serve apps/explorer.py` on a temporary store, headless Debian Chromium
(Playwright) with a live run of N trials open; this process (a separate writer) writes one new
trial at a time (proposal, started, result 'done'), then polls the page's Bokeh glyph data every
~20 ms until the trial is drawn (a) in the lineage and (b) on the map with state 'done'.

Writes benchmarks/results/explorer_latency.json and .md (merging with what is there, so
`--only-page` keeps the t-SNE numbers). Goals: incremental refresh ≤ 0.5 s at 1,000; a
completed trial on the page ≤ 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from nasbot_viz.analysis.embedding import IncrementalTSNE, make_otmann_rows  # noqa: E402
from nasbot_viz.analysis.fixtures import fill_store  # noqa: E402
from nasbot_viz.arch.architecture import Architecture  # noqa: E402
from nasbot_viz.arch.constraints import Constraints  # noqa: E402
from nasbot_viz.arch.modifiers import mutate  # noqa: E402
from nasbot_viz.records import Proposal, Result  # noqa: E402
from nasbot_viz.store import MemoryStore, open_store  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
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


# ---------------------------------------------------------------------------------------------- store → page

# Per Bokeh glyph renderer with a trial_id column ('map' has arch_id, 'lineage' not): the trial ids,
# their states, and how many points have screen positions (drawn), as in tests/test_browser.py.
GLYPHS_JS = """() => {
  const res = {}, seen = new Set();
  function walk(v) {
    if (!v || seen.has(v)) return; seen.add(v);
    if (v.model && v.model.type === 'GlyphRenderer' && v.glyph && v.glyph.sx) {
      const src = v.model.data_source.data;
      if (src.trial_id && src.state) {
        res[src.arch_id ? 'map' : 'lineage'] = {ids: Array.from(src.trial_id), state: Array.from(src.state),
                                                drawn: v.glyph.sx.length};
      }
    }
    for (const c of (v.child_views ?? [])) walk(c);
    if (v.renderer_views) for (const r of v.renderer_views.values()) walk(r);
  }
  for (const v of Object.values(Bokeh.index)) walk(v);
  return res;
}"""

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(store_dir: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    panel = Path(sys.executable).with_name("panel")
    cmd = [str(panel) if panel.exists() else "panel", "serve", str(REPO / "apps" / "explorer.py"), "--port", str(port),
           "--address", "127.0.0.1", "--allow-websocket-origin", f"127.0.0.1:{port}", "--args", "--store",
           str(store_dir)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "BOKEH_LOG_LEVEL": "warn"}
    proc = subprocess.Popen(cmd, cwd=store_dir.parent, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"panel serve exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, f"http://127.0.0.1:{port}/explorer"
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("panel serve did not start in 60 s")


def _stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def _has(glyphs: dict, kind: str, tid: int, state: str | None = None) -> bool:
    g = glyphs.get(kind)
    if not g or g["drawn"] != len(g["ids"]):
        return False
    try:
        i = g["ids"].index(tid)
    except ValueError:
        return False
    return state is None or g["state"][i] == state


class _Writer:
    """The separate writer: new trials mutated from the run's good networks, proposed and finished at once."""

    def __init__(self, store, run_id: str, seed: int):
        self.store, self.run_id = store, run_id
        self.rng = np.random.default_rng(seed)
        recs = store.trials(run_id)
        self.archs = {r.trial_id: Architecture.from_dict(r.architecture) for r in recs}
        self.values = {r.trial_id: r.value for r in recs if r.value is not None}
        self.next_id = max(self.archs) + 1

    def write_one(self) -> tuple[int, float, float]:
        """(trial id, time the proposal was committed, time its 'done' result was committed)."""
        ranked = sorted(self.values, key=self.values.get)[:10]
        for _ in range(50):
            parent = int(self.rng.choice(ranked))
            out = mutate(self.archs[parent], self.rng, Constraints())
            if out is not None:
                break
        else:
            raise RuntimeError("no mutation succeeded")
        arch, mods = out
        tid = self.next_id
        self.next_id += 1
        value = float(min(self.values.values()) + self.rng.uniform(0.0, 0.05))
        self.store.add_trial(self.run_id, Proposal(tid, arch, (parent,), tuple(mods), None, "mutation"))
        t_proposed = time.perf_counter()
        self.store.mark_running(self.run_id, tid, worker="benchmark")
        self.store.record_result(self.run_id, tid, Result(value=value, train_seconds=0.0, epochs=1))
        t_done = time.perf_counter()
        self.archs[tid], self.values[tid] = arch, value
        return tid, t_proposed, t_done


def _wait_for(page, pred, timeout: float, every_ms: int = 20) -> float | None:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if pred(page.evaluate(GLYPHS_JS)):
            return time.perf_counter()
        page.wait_for_timeout(every_ms)
    return None


def store_to_page(sizes=(50, 300), repeats: int = 10, timeout: float = 20.0) -> list[dict]:
    """Median/max seconds from a trial's 'done' commit to its point in the lineage and on the map."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    tmp = Path(tempfile.mkdtemp(prefix="nasbot-latency-"))
    store_dir = tmp / "runs"
    store_dir.mkdir()
    store = open_store(store_dir / "nasbot.sqlite")
    runs = {}
    for n in sizes:
        runs[n] = fill_store(store, n, seed=20 + n, snapshots=False, run_id=f"latency-{n}")
        store.set_run_status(runs[n], "running")  # a live run: the writer keeps adding trials
    proc = None
    results = []
    try:
        proc, url = _start_server(store_dir)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
            try:
                for n in sizes:
                    results.append(_measure_one(browser, url, store, runs[n], n, repeats, timeout))
                    print(f"store → page at {n} trials: {results[-1]}", flush=True)
            finally:
                browser.close()
    finally:
        if proc is not None:
            _stop_server(proc)
        store.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return results


def _measure_one(browser, url: str, store, run_id: str, n: int, repeats: int, timeout: float) -> dict:
    ctx = browser.new_context(viewport={"width": 1500, "height": 1150})
    try:
        page = ctx.new_page()
        page.goto(url)
        page.get_by_role("button", name="Start").wait_for(timeout=60000)
        runs = page.locator("select").filter(has_text=run_id)
        runs.select_option(label=runs.locator("option", has_text=run_id).first.inner_text().strip())
        page.wait_for_timeout(500)
        page.get_by_role("button", name="Open run (read-only)").click()
        last = n - 1
        t_open = time.perf_counter()
        if _wait_for(page, lambda g: _has(g, "lineage", last) and _has(g, "map", last)
                     and len(g["map"]["ids"]) == n, timeout=120, every_ms=200) is None:
            raise RuntimeError(f"the page never showed the {n} trials of {run_id}")
        opened = time.perf_counter() - t_open
        page.wait_for_timeout(1000)
        writer = _Writer(store, run_id, seed=n)
        jitter = random.Random(n)
        lineage, mapped, writes, missed = [], [], [], 0
        for _ in range(repeats):
            page.wait_for_timeout(jitter.uniform(50, 350))  # decorrelate the writes from the 300 ms poll
            tid, t_prop, t_done = writer.write_one()
            writes.append(t_done - t_prop)
            seen_lineage = None
            t_end = t_done + timeout
            while time.perf_counter() < t_end:
                g = page.evaluate(GLYPHS_JS)
                now = time.perf_counter()
                if seen_lineage is None and _has(g, "lineage", tid):
                    seen_lineage = now
                if _has(g, "map", tid, "done"):
                    if seen_lineage is None and _has(g, "lineage", tid):
                        seen_lineage = now
                    if seen_lineage is not None:
                        lineage.append(seen_lineage - t_done)
                        mapped.append(now - t_done)
                        break
                page.wait_for_timeout(20)
            else:
                missed += 1
        def stat(xs):
            return {"median_s": round(float(np.median(xs)), 3), "max_s": round(float(np.max(xs)), 3)} if xs else None
        load = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
        return {"n": n, "repeats": repeats, "missed": missed, "open_run_s": round(opened, 2), "loadavg_1min": load,
                "lineage": stat(lineage), "map_done": stat(mapped),
                "store_write_ms_median": round(1000 * float(np.median(writes)), 1),
                "samples_map_s": [round(x, 3) for x in mapped]}
    finally:
        ctx.close()


# ---------------------------------------------------------------------------------------------- output

def render_md(data: dict) -> str:
    lines = ["# Explorer latency", ""]
    if data.get("embedding"):
        lines += ["| n | full t-SNE fit (s) | incremental refresh (s, goal ≤ 0.5 at 1,000) | "
                  "OTMANN row of one new network, uncached (s) |", "|---|---|---|---|"]
        for r in data["embedding"]:
            lines.append(f"| {r['n']} | {r['full_fit_s']} | {r['incremental_refresh_s']} | "
                         f"{r['otmann_row_uncached_s']} |")
        lines += ["", f"Full OTMANN (emd_s0.61) matrix of 1,003 networks: {data.get('otmann_matrix_1003_s')} s "
                      "(2 processes).", ""]
    page = data.get("store_to_page")
    if page:
        lines += ["## Store → page (goal ≤ 1 s from a trial's 'done' in the store to its point on the page)", "",
                  "| trials on the page | repeats | in the lineage: median / max (s) | on the map as 'done': "
                  "median / max (s) | missed (> timeout) | load average (1 min) |", "|---|---|---|---|---|---|"]
        for r in page:
            lin, mp = r["lineage"] or {}, r["map_done"] or {}
            lines.append(f"| {r['n']} | {r['repeats']} | {lin.get('median_s')} / {lin.get('max_s')} | "
                         f"{mp.get('median_s')} / {mp.get('max_s')} | {r['missed']} | {r.get('loadavg_1min')} |")
        lines += ["", data.get("store_to_page_note", "")]
    else:
        lines.append("Store → page latency: not measured.")
    lines += ["", f"Machine: {data.get('machine', '')}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only-page", action="store_true", help="only the browser store → page part (keep t-SNE numbers)")
    ap.add_argument("--skip-page", action="store_true", help="only the t-SNE part (keep store → page numbers)")
    ap.add_argument("--page-sizes", default="50,300", help="trials already on the page (comma-separated)")
    ap.add_argument("--repeats", type=int, default=10, help="trials written, one at a time, per size")
    args = ap.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "explorer_latency.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    if not args.only_page:
        results, matrix_s = embedding_refresh()
        data.update({"embedding": results, "otmann_matrix_1003_s": matrix_s})
    if not args.skip_page:
        sizes = tuple(int(s) for s in args.page_sizes.split(",") if s.strip())
        data["store_to_page"] = store_to_page(sizes, args.repeats)
        data["store_to_page_note"] = (
            "Served page (panel serve, headless Chromium) with a live run open; this script writes each trial "
            "(proposal, started, 'done') from its own SQLite connection and polls the page's Bokeh glyph data "
            "every ~20 ms; latency is from the 'done' commit until the point is drawn. The explorer polls the "
            "store every 300 ms; the map point also waits for the OTMANN row and the incremental t-SNE refresh.")
        data.pop("store_to_page_s", None)
    data["machine"] = f"{os.cpu_count()} cpus, OMP_NUM_THREADS=1"
    path.write_text(json.dumps(data, indent=1))
    md = render_md(data)
    (OUT / "explorer_latency.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
