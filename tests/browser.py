"""A real headless Chromium for tests, driven over the Chrome DevTools Protocol.

`Browser` starts Debian's `chromium` on a free DevTools port (read back from the
`DevToolsActivePort` file it writes) and speaks CDP over one WebSocket (the `websockets`
package, synchronous client) with flattened sessions, one per page. A reader thread routes
answers to their callers and keeps every event. `Page` opens a URL, evaluates JavaScript, waits
for DOM states, and reports what went wrong in the page: uncaught exceptions, console errors,
Content-Security-Policy violations (seen both in the browser's log and by a
`securitypolicyviolation` listener installed before any page script runs) and, separately,
network errors (refused connections are expected while a test has stopped the server).
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-default-apps", "--mute-audio",
         "--remote-debugging-port=0")
# Recorded in every page before its own scripts: CSP violations as the DOM reports them.
_WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(
    `${e.violatedDirective} blocked ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


class CDPError(RuntimeError):
    pass


class Browser:
    """One headless Chromium process and its DevTools connection."""

    def __init__(self, timeout: float = 30.0) -> None:
        if CHROMIUM is None:
            raise RuntimeError("chromium is not installed (make test installs it)")
        self.profile = Path(tempfile.mkdtemp(prefix="promwire-chromium-"))
        self.log_path = self.profile / "chromium.log"
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={self.profile}",
                                      "about:blank"],
                                     stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        log.close()
        self._ids = itertools.count(1)
        self._pending: dict[int, Future[dict[str, Any]]] = {}
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._stack = contextlib.ExitStack()  # the connection is a context manager
        try:
            self.ws: ClientConnection = self._stack.enter_context(connect(
                self._devtools_url(timeout), max_size=None, open_timeout=timeout))
        except BaseException:
            self.close()
            raise
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _devtools_url(self, timeout: float) -> str:
        """The browser endpoint from `DevToolsActivePort` (port, then path)."""
        active = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited {self.proc.returncode}:\n{self.log()}")
            with contextlib.suppress(OSError):
                lines = active.read_text().split()
                if len(lines) >= 2:
                    return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
            time.sleep(0.05)
        raise RuntimeError(f"chromium did not open DevTools in {timeout}s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def _read(self) -> None:
        with contextlib.suppress(Exception):
            for raw in self.ws:
                message = json.loads(raw)
                if "id" in message:
                    future = self._pending.pop(message["id"], None)
                    if future is not None:
                        future.set_result(message)
                else:
                    with self._lock:
                        self._events.append(message)
        for future in list(self._pending.values()):
            if not future.done():
                future.set_exception(CDPError("DevTools connection closed"))

    def send(self, method: str, params: dict[str, Any] | None = None,
             session: str | None = None, timeout: float = 15.0) -> dict[str, Any]:
        """One CDP command; its `result`, or CDPError with the protocol's error."""
        msg_id = next(self._ids)
        future: Future[dict[str, Any]] = Future()
        self._pending[msg_id] = future
        message: dict[str, Any] = {"id": msg_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        answer = future.result(timeout)
        if "error" in answer:
            raise CDPError(f"{method}: {answer['error']}")
        return answer.get("result", {})

    def events(self, session: str, method: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self._events if e.get("sessionId") == session
                    and (method is None or e.get("method") == method)]

    def clear_events(self, session: str, method: str) -> None:
        """Forget the kept events of one kind (large ones, such as trace data)."""
        with self._lock:
            self._events = [e for e in self._events if not (
                e.get("sessionId") == session and e.get("method") == method)]

    def new_page(self, url: str) -> Page:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target,
                                                      "flatten": True})["sessionId"]
        page = Page(self, target, session)
        page.goto(url)
        return page

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._stack.close()
        if self.proc.poll() is None:
            # Chromium's helpers (zygote, renderers) share its process group.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


class Page:
    """One tab, with its console, exceptions and network errors recorded."""

    def __init__(self, browser: Browser, target: str, session: str) -> None:
        self.browser, self.target, self.session = browser, target, session
        for domain in ("Runtime", "Log", "Page", "Network"):
            self.send(f"{domain}.enable")
        self.send("Page.addScriptToEvaluateOnNewDocument", {"source": _WATCH_CSP})

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.browser.send(method, params, session=self.session)

    def goto(self, url: str, timeout: float = 30.0) -> None:
        """Navigate and wait for the document (and its module scripts) to have loaded."""
        answer = self.send("Page.navigate", {"url": url})
        if answer.get("errorText"):
            raise CDPError(f"navigating to {url}: {answer['errorText']}")
        self.wait_for(f'document.readyState === "complete" && location.href === {json.dumps(url)}',
                      timeout, f"{url} to load")

    def evaluate(self, expression: str, gesture: bool = False) -> Any:
        """The value of a JavaScript expression (awaited when it is a promise); with `gesture`,
        run as a user's gesture (what notifications and audio need to start)."""
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True, "userGesture": gesture})
        if "exceptionDetails" in result:
            raise CDPError(f"{expression!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30.0, message: str = "") -> Any:
        """Poll `expression` until it is truthy; fail with its last value and the problems."""
        deadline = time.monotonic() + timeout
        value: Any = None
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {message or expression} (last value "
                             f"{value!r}); page problems: {self.problems(network=True)}")

    def problems(self, network: bool = False) -> list[str]:
        """What went wrong in the page: exceptions, console errors and warnings, CSP
        violations; with `network`, also failed connections and requests."""
        found = []
        for event in self.browser.events(self.session, "Runtime.exceptionThrown"):
            details = event["params"]["exceptionDetails"]
            found.append("exception: " + str(details.get("exception", {}).get("description")
                                              or details.get("text")))
        for event in self.browser.events(self.session, "Runtime.consoleAPICalled"):
            params = event["params"]
            if params["type"] in ("error", "warning", "assert"):
                texts = [str(arg.get("value", arg.get("description"))) for arg in params["args"]]
                found.append(f"console.{params['type']}: {' '.join(texts)}")
        for event in self.browser.events(self.session, "Log.entryAdded"):
            entry = event["params"]["entry"]
            if entry["level"] not in ("error", "warning"):
                continue
            if _network_entry(entry) and not network:
                continue
            found.append(f"log ({entry['source']}): {entry['text']}")
        found += [f"CSP: {v}" for v in self.evaluate("window.__cspViolations || []")]
        return found

    def click(self, selector: str) -> None:
        """Click the element `selector` finds, as a user would (a gesture)."""
        self.evaluate(f"document.querySelector({json.dumps(selector)}).click()", gesture=True)

    def before_scripts(self, source: str) -> None:
        """Run `source` in every document this page opens from now on, before its scripts."""
        self.send("Page.addScriptToEvaluateOnNewDocument", {"source": source})

    def sent(self, part: str) -> list[dict[str, Any]]:
        """The requests (CDP `request` objects: url, method, headers, postData) whose URL holds
        `part`, in order."""
        return [e["params"]["request"]
                for e in self.browser.events(self.session, "Network.requestWillBeSent")
                if part in e["params"]["request"]["url"]]

    def websocket_urls(self) -> list[str]:
        """Every WebSocket the page opened (or tried to), in order."""
        return [e["params"]["url"] for e in self.browser.events(self.session,
                                                                 "Network.webSocketCreated")]

    def requests(self) -> list[str]:
        return [e["params"]["request"]["url"]
                for e in self.browser.events(self.session, "Network.requestWillBeSent")]

    def viewport(self, width: int, height: int, mobile: bool = False) -> None:
        """Lay the page out as a `width` x `height` CSS px window (a phone's with `mobile`)."""
        self.send("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})

    def color_scheme(self, scheme: str) -> None:
        """Make `prefers-color-scheme` answer `scheme` ("light" or "dark")."""
        self.send("Emulation.setEmulatedMedia", {
            "features": [{"name": "prefers-color-scheme", "value": scheme}]})

    def screenshot(self, path: Path) -> bytes:
        """A PNG of the viewport, also written to `path`."""
        data = base64.b64decode(self.send("Page.captureScreenshot", {"format": "png"})["data"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return data

    def transferred(self) -> dict[str, int]:
        """Bytes received over the network per finished request URL (headers and body as
        sent, i.e. compressed), from Network.loadingFinished; WebSocket frames not included."""
        urls = {e["params"]["requestId"]: e["params"]["request"]["url"]
                for e in self.browser.events(self.session, "Network.requestWillBeSent")}
        sizes: dict[str, int] = {}
        for event in self.browser.events(self.session, "Network.loadingFinished"):
            url = urls.get(event["params"]["requestId"], "?")
            sizes[url] = sizes.get(url, 0) + int(event["params"]["encodedDataLength"])
        return sizes

    def close(self) -> None:
        with contextlib.suppress(CDPError, TimeoutError):
            self.browser.send("Target.closeTarget", {"targetId": self.target})


def _network_entry(entry: dict[str, Any]) -> bool:
    """A failed connection or request (not a page bug): refused sockets, failed fetches."""
    text = entry.get("text", "")
    return entry.get("source") == "network" or text.startswith(("WebSocket connection to",
                                                                "Failed to load resource"))
