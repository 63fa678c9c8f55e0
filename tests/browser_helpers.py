"""A real JupyterLab server and a headless Chromium page on it, for tests/test_browser.py.

Nothing here downloads anything: the browser is Debian's ``/usr/bin/chromium`` (Playwright
only drives it), and JupyterLab serves its own static files from the venv.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Optional

CHROMIUM = Path(os.environ.get("NASEDU_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [  # Playwright adds a fresh temporary profile (--user-data-dir) itself
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
]
LOOPBACK = "127.0.0.1"

# JupyterLab settings of the test's own (temporary) user: no news or update checks, every
# cell attached to the DOM (so that outputs far down the notebook can be inspected).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False, "doNotDisturbMode": True},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/extensionmanager-extension/plugin.jupyterlab-settings": {"enabled": False},
}


def widget_notebooks(folder: Path) -> list[Path]:
    """Numbered notebooks whose code uses ``nd.widgets.`` (so they show live widgets)."""
    found = []
    for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        if any(c["cell_type"] == "code" and "nd.widgets." in "".join(c["source"]) for c in cells):
            found.append(path)
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def copy_workspace(repo: Path, dest: Path) -> Path:
    """Copy notebooks/ and resource/ into ``dest/<repo name>``, as a fresh clone has them.

    The notebooks read ``../resource``, which resolves in the copy, and whatever they write
    lands in the copy, never in the repository.
    """
    root = dest / repo.name
    root.mkdir(parents=True)
    # without checkpoints or notebooks/outputs/ of earlier runs (git-ignored)
    shutil.copytree(repo / "notebooks", root / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "outputs"))
    if (repo / "resource").is_dir():
        shutil.copytree(repo / "resource", root / "resource")
    return root


def _descendants(pid: int) -> list[int]:
    try:
        import psutil
    except ImportError:
        return []
    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []


def _kill(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


class LabServer:
    """``jupyter lab`` on 127.0.0.1 with a token and its own temporary Jupyter/IPython dirs."""

    def __init__(self, root: Path, home: Path, env: Optional[dict[str, str]] = None) -> None:
        self.root, self.home = root, home
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.log_path = home / "jupyter-lab.log"
        dirs = {name: home / name.lower() for name in
                ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR")}
        for path in dirs.values():
            path.mkdir(parents=True, exist_ok=True)
        settings = dirs["JUPYTER_CONFIG_DIR"] / "lab" / "user-settings"
        for name, value in LAB_SETTINGS.items():
            (settings / name).parent.mkdir(parents=True, exist_ok=True)
            (settings / name).write_text(json.dumps(value))
        self.env = {**os.environ, **{k: str(v) for k, v in dirs.items()}, **(env or {})}
        self.env["JUPYTERLAB_SETTINGS_DIR"] = str(settings)
        self.env["JUPYTERLAB_WORKSPACES_DIR"] = str(dirs["JUPYTER_CONFIG_DIR"] / "lab" / "workspaces")
        for name in ("JUPYTER_PATH", "JUPYTERLAB_DIR", "JUPYTER_TOKEN", "JUPYTER_PLATFORM_DIRS"):
            self.env.pop(name, None)  # the venv's own kernel spec and lab files, nothing else
        self.process: Optional[subprocess.Popen] = None

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "jupyterlab", "--no-browser",
               f"--ServerApp.ip={LOOPBACK}", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
               "--LabApp.extension_manager=readonly",  # no PyPI queries
               # should a test run be killed before its finalizers ran: idle kernels go after 15 minutes,
               # then the server after 10 more
               "--MappingKernelManager.cull_idle_timeout=900", "--ServerApp.shutdown_no_activity_timeout=600"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        return cmd

    def start(self, timeout: float = 120) -> None:
        log = open(self.log_path, "wb")
        self.process = subprocess.Popen(self.command(), cwd=self.root, env=self.env, stdout=log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with code {self.process.returncode}:\n{self.log_tail()}")
            try:
                self.api("GET", "/api/status", timeout=5)
                return
            except (urllib.error.URLError, OSError):
                time.sleep(0.5)
        raise TimeoutError(f"jupyter lab did not answer on {self.url} within {timeout:.0f} s:\n{self.log_tail()}")

    def api(self, method: str, path: str, timeout: float = 30) -> Any:
        request = urllib.request.Request(self.url + path, method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def page_url(self, path: str, workspace: str) -> str:
        """Open ``path`` (relative to the root) in a fresh, named workspace (no tabs restored)."""
        return f"{self.url}/lab/workspaces/{workspace}/tree/{path}?token={self.token}"

    def shutdown_sessions(self) -> None:
        """Shut down every kernel session (frees the CPU for the next notebook)."""
        try:
            for session in self.api("GET", "/api/sessions"):
                self.api("DELETE", f"/api/sessions/{session['id']}")
        except (urllib.error.URLError, OSError):
            pass

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        text = re.sub(r"token=[0-9a-f]+", "token=...", text)
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Ask the server to shut down (it stops its kernels); then kill whatever is left of it."""
        if self.process is None:
            return
        children = _descendants(self.process.pid)  # kernels run in sessions of their own
        if self.process.poll() is None:
            try:
                self.api("POST", "/api/shutdown", timeout=10)
                self.process.wait(timeout=20)
            except (urllib.error.URLError, OSError, subprocess.TimeoutExpired):
                pass
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if self.process.poll() is None:
                try:
                    os.killpg(self.process.pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass
            _kill(children, sig)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                continue
            if sig == signal.SIGTERM:
                time.sleep(1)  # give the kernels a moment too
        self.process = None


# -- the page -----------------------------------------------------------------------------

# Code-cell prompts: "[*]:" running or queued, "[12]:" done, "[ ]:" never run.
JS_PROGRESS = """() => {
  const prompts = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt')]
    .map(p => p.textContent.trim());
  // the status bar's kernel item reads "Python 3 (ipykernel) | Idle" once the kernel is up
  const kernel = document.querySelector('#jp-main-statusbar .jp-StatusBar-TextItem[title^="Change kernel"]');
  return {
    total: prompts.length,
    running: prompts.filter(p => p.includes('*')).length,
    done: prompts.filter(p => /\\[\\d+\\]/.test(p)).length,
    kernel: kernel ? kernel.textContent.trim() : '',
  };
}"""

# Outputs of cells that raised, and stderr that carries a traceback.
JS_ERRORS = """() => {
  const found = [];
  const seen = new Set();
  const selectors = ['.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]',
                     '.jp-RenderedText[data-mime-type="application/vnd.jupyter.error"]',
                     '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]',
                     '.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]'];
  for (const el of document.querySelectorAll(selectors.join(','))) {
    const text = el.innerText || el.textContent || '';
    const isError = (el.getAttribute('data-mime-type') || '').endsWith('error');
    if ((isError || /Traceback|Error:/.test(text)) && !seen.has(text)) { seen.add(text); found.push(text); }
  }
  for (const el of document.querySelectorAll('.jp-OutputArea-output, .widget-output')) {
    const text = el.innerText || '';
    if (/Error displaying widget|Failed to (load|display) (model|widget)/i.test(text) && !seen.has(text)) {
      seen.add(text); found.push(text);
    }
  }
  return found;
}"""

JS_VISIBLE_ERRORS = """() => {
  const texts = [];
  for (const el of document.querySelectorAll('.jp-Dialog, .Toastify__toast, .jp-Notification-Toast, .jp-ErrorPanel')) {
    if (el.innerText) texts.push(el.innerText);
  }
  return texts;
}"""

# Every nasedu widget box in the visible notebook: its classes and the nasedu classes of its controls.
JS_WIDGETS = """() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .widget-box')]
  .filter(b => [...b.classList].some(c => c.startsWith('nasedu-')) && b.querySelector('.nasedu-figure'))
  .map(b => ({
    name: [...b.classList].find(c => c.startsWith('nasedu-')),
    controls: [...b.querySelectorAll('[class*="nasedu-"]')]
      .flatMap(e => [...e.classList].filter(c => c.startsWith('nasedu-')))
      .filter(c => c !== 'nasedu-figure' && c !== 'nasedu-output'),
  }))"""

# What a student sees change: the figure and the HTML texts (summary, status) of one box.
JS_STATE = """(box) => ({
  figure: (box.querySelector('.nasedu-figure img') || box.querySelector('img.nasedu-figure') || {}).src || '',
  html: [...box.querySelectorAll('.widget-html-content')].map(e => e.innerText).join('\\n'),
  output: [...box.querySelectorAll('.nasedu-output')].map(e => e.innerText).join('\\n'),
})"""


def visible_error_text(page: Any, limit: int = 6000) -> str:
    """Error outputs, dialogs and toasts on the page, for a failure message."""
    parts = []
    try:
        errors = page.evaluate(JS_ERRORS)
        if errors:
            parts.append("error outputs:\n" + "\n----\n".join(errors))
        dialogs = page.evaluate(JS_VISIBLE_ERRORS)
        if dialogs:
            parts.append("dialogs and notifications:\n" + "\n----\n".join(dialogs))
    except Exception as error:  # the page may be gone
        parts.append(f"(could not read the page: {error})")
    text = "\n".join(parts) or "(no error text visible on the page)"
    return text if len(text) <= limit else text[:limit] + "\n[...]"
