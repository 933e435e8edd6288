"""The explorer in a real browser: headless Debian Chromium (Playwright) against `panel serve`.

Starts a synthetic-task search from the page, watches points arrive on the map and in the
lineage, clicks a point, pauses and resumes, opens a finished run read-only, stays responsive
with a 1,000-trial run, and saves the screenshots the README uses (docs/screenshots/).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
SHOTS = REPO / "docs" / "screenshots"

playwright_api = pytest.importorskip("playwright.sync_api")
if CHROMIUM is None:
    pytest.skip("Debian chromium is not installed", allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402

# Screen positions of the points of every Bokeh glyph renderer that carries a trial_id column.
POINTS_JS = """() => {
  const out = [], seen = new Set();
  function walk(v) {
    if (!v || seen.has(v)) return; seen.add(v);
    if (v.model && v.model.type === 'GlyphRenderer' && v.glyph && v.glyph.sx) {
      const src = v.model.data_source.data;
      if (src.trial_id && src.state) {
        const kind = src.arch_id ? 'map' : 'lineage';
        const box = v.parent.canvas_view.el.getBoundingClientRect();
        out.push({kind: kind, ids: Array.from(src.trial_id), x: Array.from(v.glyph.sx).map(s => s + box.left),
                  y: Array.from(v.glyph.sy).map(s => s + box.top), top: box.top});
      }
    }
    for (const c of (v.child_views ?? [])) walk(c);
    if (v.renderer_views) for (const r of v.renderer_views.values()) walk(r);
  }
  for (const v of Object.values(Bokeh.index)) walk(v);
  const res = {};
  for (const o of out) res[o.kind] = o;
  return res;
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, store_dir: Path):
        self.port = _free_port()
        panel = Path(sys.executable).with_name("panel")
        cmd = [str(panel) if panel.exists() else "panel", "serve", str(REPO / "apps" / "explorer.py"),
               "--port", str(self.port), "--address", "127.0.0.1",
               "--allow-websocket-origin", f"127.0.0.1:{self.port}", "--args", "--store", str(store_dir)]
        env = {**os.environ, "OMP_NUM_THREADS": "1", "BOKEH_LOG_LEVEL": "warn"}
        self.proc = subprocess.Popen(cmd, cwd=store_dir.parent, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.url = f"http://127.0.0.1:{self.port}/explorer"
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("panel serve exited: " + (self.proc.stdout.read() if self.proc.stdout else ""))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("panel serve did not start in 60 s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory):
    from nasbot_viz.analysis.fixtures import fill_store
    from nasbot_viz.store import open_store

    d = tmp_path_factory.mktemp("runs")
    s = open_store(d / "nasbot.sqlite")
    fill_store(s, 60, fail_every=9, seed=4)
    s.close()
    s = open_store(d / "big.sqlite")
    fill_store(s, 1000, fail_every=13, seed=5)
    s.close()
    return d


@pytest.fixture(scope="module")
def server(store_dir):
    srv = Server(store_dir)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--disable-sync"])
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    ctx = browser.new_context(viewport={"width": 1500, "height": 1150})
    pg = ctx.new_page()
    errors: list[str] = []  # uncaught JavaScript errors: BokehJS reports broken models only here
    pg.on("pageerror", lambda err: errors.append(str(err)))
    pg.goto(server.url)
    expect(pg.get_by_role("button", name="Start")).to_be_visible(timeout=60000)
    yield pg
    ctx.close()
    assert not errors, f"{len(errors)} JavaScript error(s) on the page: {sorted(set(errors))}"


def _points(page, which: str = "map", at_least: int = 1, timeout: float = 60.0) -> dict:
    """The screen positions of the 'map' or 'lineage' points, once there are enough."""
    deadline = time.time() + timeout
    last = []
    while time.time() < deadline:
        last = page.evaluate(POINTS_JS)
        if which in last and len(last[which]["ids"]) >= at_least:
            return last[which]
        page.wait_for_timeout(300)
    raise AssertionError(f"fewer than {at_least} points appeared: { {k: len(v['ids']) for k, v in last.items()} }")


def _poll_count(page) -> int:
    text = page.get_by_text(re.compile(r"poll \d+")).first.inner_text()
    return int(re.search(r"poll (\d+)", text).group(1))


def _open(page, store_file: str) -> None:
    page.locator("select").filter(has_text=store_file).select_option(store_file)
    page.wait_for_timeout(500)
    page.get_by_role("button", name="Open run (read-only)").click()


def _isolated(pts: dict, exclude: set[int] = frozenset(), min_id: int = 0) -> int:
    """Index of the point farthest from its nearest neighbour (a click there hits only it)."""
    best, best_gap = None, -1.0
    n = len(pts["ids"])
    for i in range(n):
        if pts["ids"][i] in exclude or pts["ids"][i] < min_id:
            continue
        gap = min(((pts["x"][i] - pts["x"][j]) ** 2 + (pts["y"][i] - pts["y"][j]) ** 2 for j in range(n) if j != i),
                  default=1e9)
        if gap > best_gap:
            best, best_gap = i, gap
    assert best is not None
    return best


def _click_point(page, pts: dict, k: int) -> int:
    page.mouse.click(pts["x"][k], pts["y"][k])
    return int(pts["ids"][k])


def _select_by_click(page, which: str, choose, at_least: int = 1, tries: int = 4) -> int:
    """Click a point (chosen by `choose(pts) -> index`) until the page selects it: the plots can
    re-lay themselves out between reading a point's position and the click landing (a map refresh,
    the page growing), which on a loaded machine makes a single click miss now and then."""
    for attempt in range(tries):
        pts = _points(page, which, at_least=at_least)
        tid = _click_point(page, pts, choose(pts))
        try:
            expect(page.get_by_role("heading", name=re.compile(rf"Trial {tid} —"))).to_be_visible(timeout=15000)
            return tid
        except AssertionError:
            if attempt == tries - 1:
                raise
            page.wait_for_timeout(1000)
    raise AssertionError("unreachable")


def test_open_a_finished_run_read_only_click_a_point_and_take_screenshots(page):
    _open(page, "nasbot.sqlite")
    expect(page.get_by_text(re.compile(r"60 networks · t-SNE"))).to_be_visible(timeout=60000)
    expect(page.get_by_text(re.compile(r"finished \(read-only\) · 60"))).to_be_visible()
    lineage = _points(page, "lineage", at_least=60)
    assert len(lineage["ids"]) == 60
    # a mutated network, not under the 'latest' ring
    tid = _select_by_click(page, "map", lambda pts: _isolated(pts, exclude={59}, min_id=12), at_least=60)
    expect(page.get_by_text(re.compile(rf"Trial {tid}, made from trial \d+"))).to_be_visible(timeout=30000)
    expect(page.locator("svg text", has_text=f"trial {tid}").first).to_be_attached(timeout=30000)  # layer graph
    expect(page.get_by_text(re.compile(r"Model that chose"))).to_be_visible()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(800)
    page.screenshot(path=str(SHOTS / "explorer.png"))
    page.get_by_text("Transport plan", exact=True).first.click()
    expect(page.get_by_text(re.compile(r"OTMANN distance emd_s0.61 ="))).to_be_visible(timeout=30000)
    plan = page.locator("svg", has=page.locator("text", has_text="A = trial")).first
    plan.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    plan.screenshot(path=str(SHOTS / "transport_plan.png"))
    # a click on a lineage node selects too (scroll back up to it first)
    page.mouse.move(700, 400)
    page.mouse.wheel(0, -5000)
    page.wait_for_timeout(800)
    _select_by_click(page, "lineage", lambda p: _isolated(p, exclude={tid}), at_least=60)


def test_start_a_search_watch_it_pause_and_resume(page):
    page.locator("select").filter(has_text="digits-cnn").select_option("synthetic-cnn")
    page.get_by_label("Budget (evaluations)").fill("30")
    page.get_by_label("Budget (evaluations)").press("Enter")
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_text(re.compile(r"running · \d+ / 30 evaluated"))).to_be_visible(timeout=60000)
    expect(page.get_by_text(re.compile(r"Running nasbot on synthetic-cnn \(run "))).to_be_visible(timeout=30000)
    _points(page, "map", at_least=5, timeout=90)
    _points(page, "lineage", at_least=5, timeout=30)
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("button", name="Resume")).to_be_enabled(timeout=10000)
    expect(page.get_by_text("paused", exact=True)).to_be_visible(timeout=20000)
    page.get_by_role("button", name="Resume").click()
    expect(page.get_by_text(re.compile(r"finished · 30 evaluated|30 / 30 evaluated"))).to_be_visible(timeout=150000)
    pts = _points(page, "map", at_least=30, timeout=60)
    assert len(pts["ids"]) == 30
    tid = _select_by_click(page, "map", lambda p: _isolated(p, exclude={max(p["ids"])}), at_least=30)
    expect(page.get_by_text(re.compile(r"Model that chose \*?\*?trial|Model that chose"))).to_be_visible()
    page.wait_for_timeout(500)
    page.screenshot(path=str(SHOTS / "live_search.png"))


def test_stays_responsive_with_a_1000_trial_run(page):
    _open(page, "big.sqlite")
    expect(page.get_by_text(re.compile(r"finished \(read-only\) · \d+ evaluated"))).to_be_visible(timeout=60000)
    lineage = _points(page, "lineage", at_least=1000, timeout=90)
    before = _poll_count(page)
    tid = _select_by_click(page, "lineage", _isolated, at_least=1000)
    page.wait_for_timeout(3000)
    assert _poll_count(page) > before  # the periodic callback kept ticking while distances are computed
