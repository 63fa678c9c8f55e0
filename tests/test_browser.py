"""The widget notebooks work in a real JupyterLab, driven by headless Chromium.

For every notebook whose code uses ``nd.widgets.``: start JupyterLab on 127.0.0.1 (own token,
own temporary Jupyter and IPython dirs, NASEDU_QUICK=1), open a temporary copy of the notebook,
Run > Run All Cells, wait for the kernel to go idle, check that no cell raised, then move each
nasedu widget's controls like a student would (pick another option in a dropdown, PageDown on a
slider's handle, press Run/Evaluate) and check that its figure or summary changed. Screenshots before and
after are saved to $NASEDU_SCREENSHOTS (default: test-artifacts/screenshots/).

    python -m pytest tests/test_browser.py -q -s      # -s shows progress
    python -m pytest -m "not browser"                 # everything else

Needs Debian's chromium (/usr/bin/chromium) and the playwright package; skips without them.
NASEDU_BROWSER_TIMEOUT (seconds, default 900) bounds the run of each notebook.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from browser_helpers import (CHROMIUM, CHROMIUM_ARGS, JS_ERRORS, JS_PROGRESS, JS_STATE, JS_WIDGETS, LOOPBACK,
                             LabServer, copy_workspace, visible_error_text, widget_notebooks)
from conftest import REPO

pytestmark = pytest.mark.browser

NOTEBOOKS = widget_notebooks(REPO / "notebooks")
RUN_TIMEOUT = float(os.environ.get("NASEDU_BROWSER_TIMEOUT", "900"))  # s, Run All Cells of one notebook
KERNEL_TIMEOUT = 180.0  # s, from opening a notebook to an idle kernel
CHANGE_TIMEOUT = 60.0  # s, for a figure to change after a dropdown or slider moved
BUTTON_TIMEOUT = 300.0  # s, for Run / Evaluate to finish
VIEWPORT = {"width": 1400, "height": 1000}
# The nasedu views (the same boxes as JS_WIDGETS finds, in the same order).
WIDGET_BOXES = '.jp-NotebookPanel:not(.lm-mod-hidden) .widget-box[class*="nasedu-"]:has(.nasedu-figure)'
ERROR_OUTPUTS = ", ".join(f'.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.{kind}"]'
                          for kind in ("error", "stderr"))
# Only loopback: every other host name resolves to nothing (the notebooks' Colab/Binder badges).
NO_NETWORK = f"--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE {LOOPBACK}"


def say(request: pytest.FixtureRequest, text: str) -> None:
    """Print even when pytest captures output (the screenshots folder, progress)."""
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if capture is None:
        print(text, flush=True)
        return
    with capture.global_and_fixture_disabled():
        print(f"\n[browser] {text}", end="", flush=True)


@pytest.fixture(scope="module")
def sync_playwright():
    if not CHROMIUM.exists():
        pytest.skip(f"no browser: {CHROMIUM} is missing (Debian/Ubuntu: apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        pytest.skip(f"no browser driver: playwright is not importable ({error}); pip install -r requirements.txt")
    return sync_playwright


@pytest.fixture(scope="module")
def screenshots(request) -> Path:
    folder = Path(os.environ.get("NASEDU_SCREENSHOTS", REPO / "test-artifacts" / "screenshots")).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    say(request, f"screenshots go to {folder}")
    return folder


@pytest.fixture(scope="module")
def lab(request, sync_playwright, tmp_path_factory) -> LabServer:
    """JupyterLab on a temporary copy of notebooks/ (beside a copy of resource/)."""
    tmp = tmp_path_factory.mktemp("lab")
    root = copy_workspace(REPO, tmp / "work")
    server = LabServer(root, tmp / "home", env={"NASEDU_QUICK": "1", "PYTHONUNBUFFERED": "1"})
    request.addfinalizer(server.stop)
    # The kernel spec must still be found with the temporary JUPYTER_DATA_DIR: it is the venv's.
    specs = subprocess.run([sys.executable, "-m", "jupyter", "kernelspec", "list", "--json"], env=server.env,
                           capture_output=True, text=True, timeout=120)
    assert specs.returncode == 0, specs.stderr
    assert "python3" in specs.stdout, f"no python3 kernel spec with temporary Jupyter dirs:\n{specs.stdout}"
    start = time.monotonic()
    server.start()
    say(request, f"JupyterLab up on {server.url} in {time.monotonic() - start:.1f} s (root {root})")
    # ... and JupyterLab's own files (static, schemas, themes) are the venv's too.
    lab_dir = os.path.realpath(Path(sys.prefix) / "share" / "jupyter" / "lab")
    assert f"JupyterLab application directory is {lab_dir}" in server.log_tail(200), server.log_tail(200)
    return server


@pytest.fixture(scope="module")
def browser(request, sync_playwright, lab):
    playwright = sync_playwright().start()
    request.addfinalizer(playwright.stop)
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, NO_NETWORK],
                                          timeout=120_000)
    request.addfinalizer(chromium.close)
    return chromium


class Failure(AssertionError):
    pass


class NotebookPage:
    """One notebook open in JupyterLab, with the evidence a failure message needs."""

    def __init__(self, page, lab: LabServer, notebook: Path, screenshots: Path, request) -> None:
        self.page, self.lab, self.notebook, self.screenshots, self.request = page, lab, notebook, screenshots, request
        self.console: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.console.append(f"page error: {e}"))

    def _console(self, message) -> None:
        if message.type == "error" and "ERR_NAME_NOT_RESOLVED" not in message.text:  # the badges, blocked here
            self.console.append(f"{message.type}: {message.text}")

    def fail(self, message: str) -> None:
        __tracebackhide__ = True
        path = self.screenshots / f"{self.notebook.stem}-FAILED.png"
        try:  # show the first error output, if any, rather than wherever the notebook is scrolled
            first_error = self.page.locator(ERROR_OUTPUTS).filter(has_text=re.compile("Traceback|Error")).first
            first_error.scroll_into_view_if_needed(timeout=3000)
        except Exception:
            pass
        try:
            self.page.screenshot(path=str(path), full_page=True)
        except Exception as error:  # the page may be gone
            path = f"(no screenshot: {error})"
        console = "\n".join(self.console[-15:]) or "(none)"
        raise Failure(f"{self.notebook.name}: {message}\n\n{visible_error_text(self.page)}\n\n"
                      f"browser console errors:\n{console}\n\nJupyterLab log (tail):\n{self.lab.log_tail(25)}\n\n"
                      f"screenshot: {path}")

    def progress(self) -> dict:
        return self.page.evaluate(JS_PROGRESS)

    def open(self) -> None:
        self.page.goto(self.lab.page_url(f"notebooks/{self.notebook.name}", workspace=self.notebook.stem),
                       timeout=120_000)
        try:
            self.page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-CodeCell", timeout=120_000)
        except Exception:
            self.fail("the notebook did not open in JupyterLab")
        self.wait_idle(KERNEL_TIMEOUT, "the kernel did not start")

    def wait_idle(self, timeout: float, what: str) -> dict:
        deadline = time.monotonic() + timeout
        state = self.progress()
        while not state["kernel"].endswith("Idle"):
            if time.monotonic() > deadline:
                self.fail(f"{what} within {timeout:.0f} s (kernel status: {state['kernel']!r})")
            time.sleep(0.5)
            state = self.progress()
        return state

    def run_all(self) -> float:
        """Run > Run All Cells from the menu bar; wait until every cell ran or one failed."""
        start = time.monotonic()
        self.page.locator("#jp-menu-panel .lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
        self.page.locator("#jp-mainmenu-run .lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
        deadline, report, settled = start + RUN_TIMEOUT, start + 30, 0
        while True:
            time.sleep(1.0)
            state = self.progress()
            idle = state["running"] == 0 and state["kernel"].endswith("Idle") and state["done"] > 0
            settled = settled + 1 if idle else 0
            if settled >= 2:  # idle on two polls in a row: not a gap between two cells
                break
            now = time.monotonic()
            if now > deadline:
                self.fail(f"Run All Cells did not finish within {RUN_TIMEOUT:.0f} s "
                          f"({state['done']} of {state['total']} code cells done; raise NASEDU_BROWSER_TIMEOUT?)")
            if now > report:
                say(self.request, f"{self.notebook.name}: {state['done']}/{state['total']} code cells after "
                                  f"{now - start:.0f} s")
                report = now + 30
        errors = self.page.evaluate(JS_ERRORS)
        if errors:
            self.fail(f"{len(errors)} cell(s) raised or printed a traceback")
        if state["done"] != state["total"]:
            self.fail(f"only {state['done']} of {state['total']} code cells ran")
        return time.monotonic() - start


def box_state(box) -> dict:
    return box.evaluate(JS_STATE)


def wait_changed(nb: NotebookPage, box, before: dict, timeout: float, what: str) -> dict:
    """Wait until the figure or the HTML text of ``box`` differs from ``before`` and the kernel is idle.

    A callback updates the summary before the figure, so the kernel must be idle (the
    callback done) and the new PNG loaded before the state is final.
    """
    deadline, idle_polls = time.monotonic() + timeout, 0
    while True:
        state = box_state(box)
        changed = state["figure"] != before["figure"] or state["html"] != before["html"]
        idle_polls = idle_polls + 1 if nb.progress()["kernel"].endswith("Idle") else 0
        if changed and idle_polls >= 3:
            break
        if "Traceback" in state["output"]:
            nb.fail(f"{what}: the widget's output shows an error:\n{state['output']}")
        if time.monotonic() > deadline:
            problem = "the kernel stayed busy" if changed else "neither the figure nor the summary changed"
            nb.fail(f"{what}: {problem} for {timeout:.0f} s (widget output: {state['output']!r})")
        time.sleep(0.25)
    nb.page.wait_for_function("img => img.complete && img.naturalWidth > 0",
                              arg=box.locator(".nasedu-figure img, img.nasedu-figure").first.element_handle(),
                              timeout=30_000)
    return box_state(box)


def control_kind(control) -> str:
    return control.evaluate("""e => e.matches('button') ? 'button'
        : e.querySelector('select') ? 'dropdown'
        : e.querySelector('.noUi-handle') ? 'slider' : 'other'""")


def move_dropdown(nb: NotebookPage, control, key: str) -> str:
    select = control.locator("select")
    options = select.locator("option").all_text_contents()
    current = select.evaluate("s => s.selectedIndex")
    if len(options) < 2:
        nb.fail(f"dropdown {key} has fewer than two options: {options}")
    target = (current + 1) % len(options)
    select.select_option(index=target)
    return f"{key}: {options[current]} -> {options[target]}"


def move_slider(nb: NotebookPage, control, key: str) -> str:
    handle, readout = control.locator(".noUi-handle").first, control.locator(".widget-readout").first
    before = readout.inner_text() if readout.count() else handle.get_attribute("aria-valuenow")
    for key_name in ("PageDown", "PageUp"):  # down (5 steps a press) unless it sits at its minimum
        handle.focus()
        handle.press(key_name)
        handle.press(key_name)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            after = readout.inner_text() if readout.count() else handle.get_attribute("aria-valuenow")
            if after != before:
                return f"{key}: {before} -> {after}"
            time.sleep(0.2)
    nb.fail(f"slider {key} did not move with PageDown/PageUp (readout stayed {before!r})")


def exercise_widget(nb: NotebookPage, box, controls: list[str], label: str) -> list[str]:
    """Move the first dropdown and the first slider, then press every button; return what happened."""
    done: list[str] = []
    keys = [c.removeprefix("nasedu-") for c in controls]
    has_run_button = "run" in keys  # then sliders are settings for the next run, not live
    moved = {"dropdown": False, "slider": False}
    buttons = []
    for key in keys:
        control = box.locator(f".nasedu-{key}").first
        kind = control_kind(control)
        if kind == "button":
            buttons.append((key, control))
        elif kind in moved and not moved[kind]:
            moved[kind] = True
            before = box_state(box)
            action = (move_dropdown if kind == "dropdown" else move_slider)(nb, control, key)
            if has_run_button:
                done.append(action)
            else:
                wait_changed(nb, box, before, CHANGE_TIMEOUT, f"{label}: after {action}")
                done.append(action + " (figure redrawn)")
    if "stop" in keys:  # a live search: the figure moves while it trains, and Stop ends it
        return done + run_and_stop(nb, box, label)
    for key, control in buttons:
        before = box_state(box)
        control.click()
        start = time.monotonic()
        wait_changed(nb, box, before, BUTTON_TIMEOUT, f"{label}: after pressing {key}")
        done.append(f"pressed {key} ({time.monotonic() - start:.1f} s)")
    if not done:
        nb.fail(f"{label}: found no dropdown, slider or button to move among {controls}")
    output = box_state(box)["output"]
    if "Traceback" in output:
        nb.fail(f"{label}: the widget's output shows an error after interaction:\n{output}")
    return done


def mean_max_probability(state: dict) -> float:
    found = re.search(r"mean max-probability ([\d.]+)", state["html"])
    return float(found.group(1)) if found else 0.0


def run_and_stop(nb: NotebookPage, box, label: str) -> list[str]:
    """Press Run, see the figure redrawn and alpha move while the search trains, press Stop, see it end."""
    before = box_state(box)
    start = time.monotonic()
    box.locator(".nasedu-run").first.click()
    deadline = start + BUTTON_TIMEOUT
    while True:  # the first chunks: the kernel stays idle between them, so do not wait for idle
        state = box_state(box)
        if state["figure"] != before["figure"] and "running" in state["html"] and mean_max_probability(state) > 0:
            break
        if "Traceback" in state["output"]:
            nb.fail(f"{label}: the search failed:\n{state['output']}")
        if time.monotonic() > deadline:
            nb.fail(f"{label}: no redraw while the search ran ({state['html']!r})")
        time.sleep(0.1)
    training = state
    box.screenshot(path=str(nb.screenshots / f"{nb.notebook.stem}-{label.split(' ')[0].removeprefix('nasedu-')}-training.png"))
    box.locator(".nasedu-stop").first.click()
    while not re.search(r"stopped at step|finished", box_state(box)["html"]):
        if time.monotonic() > deadline:
            nb.fail(f"{label}: the search neither stopped nor finished after Stop ({box_state(box)['html']!r})")
        time.sleep(0.2)
    after = wait_changed(nb, box, training, CHANGE_TIMEOUT, f"{label}: after Stop")
    moved = mean_max_probability(after)
    if not moved > 0.25:  # uniform over 4 candidates: alpha did not move
        nb.fail(f"{label}: alpha did not move while training (mean max-probability {moved})")
    ended = re.search(r"(stopped at step \d+|finished)", after["html"]).group(1)
    return [f"pressed run: the figure was redrawn while training; pressed stop: {ended}, mean max-probability "
            f"{moved:.2f} ({time.monotonic() - start:.1f} s)"]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_widgets_respond_in_jupyterlab(notebook, lab, browser, screenshots, request):
    for old in screenshots.glob(f"{notebook.stem}-*.png"):  # of an earlier run
        old.unlink()
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    context.set_default_timeout(60_000)
    nb = NotebookPage(context.new_page(), lab, notebook, screenshots, request)
    try:
        start = time.monotonic()
        nb.open()
        opened = time.monotonic() - start
        ran = nb.run_all()
        widgets = nb.page.evaluate(JS_WIDGETS)
        if not widgets:
            nb.fail("no nasedu widget was displayed (is the @jupyter-widgets/jupyterlab-manager extension loaded?)")
        boxes = nb.page.locator(WIDGET_BOXES)
        say(request, f"{notebook.name}: opened in {opened:.1f} s, ran in {ran:.1f} s, "
                     f"{len(widgets)} widget(s): {', '.join(w['name'] for w in widgets)}")
        for i, widget in enumerate(widgets):
            box = boxes.nth(i)
            label = f"{widget['name']} #{i}"
            stem = f"{notebook.stem}-{i}-{widget['name'].removeprefix('nasedu-')}"
            box.scroll_into_view_if_needed()
            box.screenshot(path=str(screenshots / f"{stem}-before.png"))
            done = exercise_widget(nb, box, widget["controls"], label)
            box.scroll_into_view_if_needed()
            box.screenshot(path=str(screenshots / f"{stem}-after.png"))
            say(request, f"{notebook.name}: {label}: {'; '.join(done)}")
        errors = nb.page.evaluate(JS_ERRORS)
        if errors:
            nb.fail("an error appeared while the widgets were used")
        say(request, f"{notebook.name}: done in {time.monotonic() - start:.1f} s")
    except Failure:
        raise
    except Exception as error:  # Playwright's timeouts and the like: add what the page shows
        nb.fail(f"{type(error).__name__}: {error}")
    finally:
        lab.shutdown_sessions()
        context.close()
