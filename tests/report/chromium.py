"""A headless Chromium driven over the Chrome DevTools Protocol (CDP), for the report's browser test.

No driver and nothing downloaded: the browser is the system's (Debian's `chromium` package, or
`PAYERBENCH_CHROMIUM`), started with `--remote-debugging-port=0`; its DevTools WebSocket is spoken with the
`websockets` package (already installed for Prefect). Only the few CDP commands the test needs are used:
Emulation (viewport, print media), Page (navigate, screenshot, PDF), Runtime (evaluate).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def find_browser() -> str | None:
    """The Chromium binary to use: $PAYERBENCH_CHROMIUM, else the first of `CANDIDATES` on PATH."""
    chosen = os.environ.get("PAYERBENCH_CHROMIUM")
    if chosen:
        return chosen if Path(chosen).is_file() else None
    return next((found for name in CANDIDATES if (found := shutil.which(name))), None)


class Chromium:
    """One headless browser with one page; `evaluate` runs JavaScript in it and returns the value."""

    def __init__(self, binary: str, *, timeout: float = 60.0) -> None:
        from websockets.sync.client import connect

        self.timeout = timeout
        self._profile = tempfile.TemporaryDirectory(prefix="payerbench-chromium-", ignore_cleanup_errors=True)
        args = [
            binary,
            "--headless",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",  # nothing leaves the machine
            "--hide-scrollbars",  # the screenshots show the page, not a scroll bar's width
            "--remote-debugging-port=0",
            f"--user-data-dir={self._profile.name}",
            "about:blank",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox (containers, CI)
        self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = Path(self._profile.name) / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not (port_file.exists() and port_file.read_text().strip()):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise RuntimeError(f"{binary} did not open its DevTools port within {timeout:.0f} s")
            time.sleep(0.1)
        port = int(port_file.read_text().splitlines()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=timeout) as response:
            pages = [t for t in json.load(response) if t.get("type") == "page"]
        self._socket = connect(pages[0]["webSocketDebuggerUrl"], max_size=None, open_timeout=timeout)
        self._next_id = 0

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """One CDP command; its result (events arriving meanwhile are skipped)."""
        self._next_id += 1
        self._socket.send(json.dumps({"id": self._next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv(timeout=self.timeout))
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def viewport(self, width: int, height: int, *, mobile: bool) -> None:
        """Lay the page out as a screen `width` x `height` CSS pixels (a phone honours the viewport meta tag)."""
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=mobile)

    def media(self, media: str) -> None:
        """'print' to lay out as on paper, '' for the screen again."""
        self.send("Emulation.setEmulatedMedia", media=media)

    def open(self, path: Path) -> None:
        """Navigate to a local file and wait until it and its images have loaded."""
        self.send("Page.navigate", url=path.resolve().as_uri())
        deadline = time.monotonic() + self.timeout
        ready = "document.readyState === 'complete' && [...document.images].every(i => i.complete)"
        while not self.evaluate(ready):
            if time.monotonic() > deadline:
                raise RuntimeError(f"{path} did not finish loading within {self.timeout:.0f} s")
            time.sleep(0.05)

    def screenshot(self, path: Path, *, full_page: bool = False) -> None:
        """A PNG of the viewport (or of the whole page)."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = self.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
            params |= {
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1},
            }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", **params)["data"]))

    def pdf(self, path: Path) -> None:
        """The page printed (A4-ish Letter, its print CSS applied) as a PDF."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self.send("Page.printToPDF", printBackground=True)["data"]))

    def close(self) -> None:
        try:
            if getattr(self, "_socket", None) is not None:
                self._socket.close()
        finally:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._profile.cleanup()
