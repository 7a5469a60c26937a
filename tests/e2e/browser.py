"""Helpers for the real-browser journey (JavaScript off, as on Tor Browser "Safest"): Debian's
Chromium with JavaScript off, driven by Selenium, against the real `dropbox serve` and
`journalist-console serve` processes.

Nothing here is a pytest fixture on purpose (no conftest.py): the test module builds what it needs.

* `Deployment` (deployment.py) — both CLIs, both servers and the USB-stick hops.
* `Browser` — a headless Chromium with a fresh profile, JavaScript disabled the way Tor Browser
  "Safest" does it (content setting, checked on a canary page), a dead proxy and a host resolver
  that knows only 127.0.0.1, and the performance log on. `Browser.page(step)` runs every per-page
  check and writes the screenshots; hard failures raise, soft findings are collected.

Every measurement that needs layout uses the DevTools protocol (Page.getLayoutMetrics,
Emulation.setDeviceMetricsOverride, DOMSnapshot.captureSnapshot, Page.captureScreenshot): those
work with page scripts disabled, unlike `execute_script`-based checks.
"""

from __future__ import annotations

import base64
import contextlib
import http.server
import itertools
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# Selenium Manager must never go looking for (or download) a browser or a driver.
os.environ["SE_OFFLINE"] = "true"
os.environ.setdefault("SE_AVOID_STATS", "true")

from deployment import CHROMEDRIVER, CHROMIUM  # noqa: E402
from page_audit import (  # noqa: E402
    MIN_FONT_PX,
    MIN_TARGET_PX,
    PAGE_BUDGET,
    audit_html,
    blend,
    contrast,
    parse_color,
)
from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import TimeoutException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

DESKTOP = (1280, 900)
PHONE = (360, 800)
REFLOW = 320  # WCAG 1.4.10: usable at 320 CSS px without horizontal scrolling
ZOOM_200 = (DESKTOP[0] // 2, DESKTOP[1] // 2)  # 200% browser zoom of a 1280 px window

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",  # root in a container
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-client-side-phishing-detection",
    "--disable-domain-reliability",
    "--disable-breakpad",
    "--no-pings",
    "--metrics-recording-only",
    "--disable-features=OptimizationHints,MediaRouter,Translate,AutofillServerCommunication,"
    "CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions",
    "--hide-scrollbars",  # screenshots at exact CSS widths; overflow is measured, not seen
    # Nothing but 127.0.0.1 resolves, and anything that would go out meets a dead proxy.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=127.0.0.1",
    "--dns-prefetch-disable",
)


class E2EError(AssertionError):
    """A hard failure of a page check; the message names the step and what is wrong."""


# ----------------------------------------------------------------------------------------------
# The browser


@dataclass
class StepResult:
    name: str
    url: str
    requests: list[str]
    transferred: int
    width_desktop: float
    width_phone: float
    width_reflow: float
    width_zoom: float
    screenshots: list[str]
    soft: list[str]


_STYLES = (
    "color",
    "background-color",
    "font-size",
    "font-weight",
    "visibility",
    "opacity",
    "display",
)


class Browser:
    """One headless Chromium (one person's browser), JavaScript off, a fresh profile."""

    def __init__(
        self,
        name: str,
        allowed_origin: str,
        artifacts: Path,
        strict_small: bool = True,
        counter: Iterator[int] | None = None,
    ) -> None:
        self.name = name
        self.allowed_origin = allowed_origin.rstrip("/")
        self.artifacts = artifacts
        self.strict_small = strict_small  # phone-width and reflow failures are hard, not soft
        self.profile = Path(tempfile.mkdtemp(prefix=f"wbs-e2e-{name}-"))
        self.steps: list[StepResult] = []
        self.soft: list[str] = []
        self._counter = counter or itertools.count(1)  # shared by browsers writing one folder
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in (
            *CHROMIUM_FLAGS,
            f"--user-data-dir={self.profile}",
            f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
            "--lang=id-ID",
        ):
            options.add_argument(flag)
        options.add_experimental_option(
            "prefs",
            {
                # Tor Browser "Safest": no JavaScript anywhere.
                "profile.managed_default_content_settings.javascript": 2,
                "profile.default_content_setting_values.javascript": 2,
                "download.prompt_for_download": False,
                "download.default_directory": str(self.profile / "downloads"),
                "intl.accept_languages": "id-ID,id",
                "credentials_enable_service": False,
                "profile.password_manager_enabled": False,
                "safebrowsing.enabled": False,
                "translate.enabled": False,
            },
        )
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
        options.set_capability("pageLoadStrategy", "normal")
        service = Service(
            executable_path=str(CHROMEDRIVER),
            log_output=str(artifacts / f"chromedriver-{name}.log"),
        )
        try:
            self.driver = webdriver.Chrome(options=options, service=service)
        except Exception:
            shutil.rmtree(self.profile, ignore_errors=True)
            raise
        self.driver.set_page_load_timeout(60)
        self.cdp("Network.enable")
        self.drain()

    # -- plumbing ------------------------------------------------------------------------------
    def cdp(self, command: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.driver.execute_cdp_cmd(command, params or {})

    def drain(self) -> list[dict[str, Any]]:
        """The performance-log events since the last call."""
        return [
            json.loads(entry["message"])["message"] for entry in self.driver.get_log("performance")
        ]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.driver.quit()
        shutil.rmtree(self.profile, ignore_errors=True)

    def get(self, url: str) -> None:
        self.driver.get(url)

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def finds(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text(self) -> str:
        return str(self.find("body").text)

    def click_and_wait(self, element: WebElement, seconds: float = 60) -> None:
        """Click something that navigates and wait for the new document to be loaded."""
        old = self.find("html")
        element.click()

        def replaced(_driver: Any) -> bool:
            try:
                old.tag_name  # noqa: B018 - raises once the old document is gone
                return False
            except Exception:
                return True

        try:
            WebDriverWait(self.driver, seconds, poll_frequency=0.05).until(replaced)
        except TimeoutException as exc:
            raise E2EError(f"[{self.name}] the click did not lead to a new page") from exc
        WebDriverWait(self.driver, seconds, poll_frequency=0.05).until(
            lambda d: d.find_elements(By.TAG_NAME, "footer") or d.find_elements(By.TAG_NAME, "main")
        )

    # -- the canary: is JavaScript really off? --------------------------------------------------
    def prove_javascript_off(self) -> None:
        """A page of our own, without CSP, whose inline script would change the heading."""
        page = (
            b"<!doctype html><html><head><title>canary</title></head><body>"
            b"<h1 id=h>script did not run</h1><noscript><p id=ns>noscript shown</p></noscript>"
            b"<script>document.getElementById('h').textContent='SCRIPT RAN';"
            b"document.title='SCRIPT RAN'</script></body></html>"
        )

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args: Any) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            self.driver.get(f"http://127.0.0.1:{server.server_address[1]}/")
            heading = self.find("#h").text
            title = self.driver.title
            noscript = self.finds("#ns")
        finally:
            server.shutdown()
            server.server_close()
        self.drain()
        if heading != "script did not run" or title != "canary":
            raise E2EError(f"[{self.name}] JavaScript is ON: an inline script ran ({heading!r})")
        if not noscript or not noscript[0].is_displayed():
            raise E2EError(f"[{self.name}] <noscript> content is not shown: JavaScript is not off")

    # -- the per-page checks ---------------------------------------------------------------------
    def page(
        self,
        step: str,
        small_strict: bool | None = None,
        zoom_shot: bool = False,
        budget: int | None = PAGE_BUDGET,
        expect_lang: str | None = None,
        navigated: bool = True,
        status: int = 200,
    ) -> StepResult:
        """Check the page now shown, screenshot it at desktop and phone widths; return measures.
        `status`: the HTTP status the page is expected to have (a form sent back for correction
        is a 400 page, and is checked like any other)."""
        strict = self.strict_small if small_strict is None else small_strict
        label = f"{next(self._counter):02d}-{self.name.split('-')[0]}-{step}"
        where = f"[{self.name} {label}]"
        url = self.driver.current_url
        events = self.drain()
        requests, transferred, problems = self._network(events, where, navigated, status)
        source = self.driver.page_source
        audit = audit_html(source)
        problems += [f"{where} {p}" for p in audit.problems]
        problems += [f"{where} unlabelled control: {c}" for c in audit.unlabelled()]
        if self.finds("script"):
            problems.append(f"{where} a <script> element is in the DOM")
        if expect_lang and audit.html_lang != expect_lang:
            problems.append(f"{where} <html lang={audit.html_lang!r}>, expected {expect_lang!r}")
        if budget is not None and transferred > budget:
            problems.append(f"{where} the page moved {transferred} bytes (budget {budget})")
        soft: list[str] = []
        shots: list[str] = []

        desktop_w = self._metrics(*DESKTOP, 1, mobile=False)
        if desktop_w > DESKTOP[0]:
            problems.append(f"{where} horizontal scrolling at {DESKTOP[0]} px: {desktop_w}")
        shots.append(self._shot(f"{label}-desktop", DESKTOP[0], DESKTOP[1], 1, False))
        readability = self._readability(where, DESKTOP[0])

        phone_w = self._metrics(*PHONE, 1, mobile=True)
        shots.append(self._shot(f"{label}-phone", PHONE[0], PHONE[1], 1, True))
        small: list[str] = []
        if phone_w > PHONE[0]:
            small.append(
                f"{where} horizontal scrolling at {PHONE[0]} px: content {phone_w} px wide"
            )
        targets = self._targets(where)  # always a finding, never a failure
        reflow_w = self._metrics(REFLOW, 640, 1, mobile=True)
        if reflow_w > REFLOW:
            small.append(
                f"{where} horizontal scrolling at {REFLOW} CSS px (WCAG 1.4.10 reflow): "
                f"content {reflow_w} px wide"
            )
        zoom_w = self._metrics(*ZOOM_200, 2, mobile=False)
        if zoom_w > ZOOM_200[0]:  # WCAG 1.4.4 / 1.4.10
            small.append(
                f"{where} horizontal scrolling at 200% zoom of a {DESKTOP[0]} px "
                f"window: content {zoom_w} CSS px wide (viewport {ZOOM_200[0]})"
            )
        tiny_w = self._metrics(PHONE[0] // 2, PHONE[1] // 2, 2, mobile=True)
        if tiny_w > PHONE[0] // 2:  # beyond WCAG; reported, never a failure
            soft.append(
                f"{where} (info) horizontal scrolling at 200% zoom on a {PHONE[0]} px "
                f"phone ({PHONE[0] // 2} CSS px): content {tiny_w} px wide"
            )
        if zoom_shot:
            shots.append(self._shot(f"{label}-zoom200", ZOOM_200[0], ZOOM_200[1], 2, False))
        self.cdp("Emulation.clearDeviceMetricsOverride")
        self.drain()
        if strict:
            problems += readability + small
        else:
            soft += readability + small
        soft += targets
        result = StepResult(
            label, url, requests, transferred, desktop_w, phone_w, reflow_w, zoom_w, shots, soft
        )
        self.steps.append(result)
        self.soft += soft
        if problems:
            raise E2EError("\n".join(problems))
        return result

    def _network(
        self,
        events: Sequence[dict[str, Any]],
        where: str,
        navigated: bool,
        status: int = 200,
    ) -> tuple[list[str], int, list[str]]:
        problems: list[str] = []
        requests: list[str] = []
        transferred = 0
        for event in events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Network.requestWillBeSent":
                url = params["request"]["url"]
                requests.append(f"{params['request']['method']} {url} ({params.get('type')})")
                parts = urlsplit(url)
                origin = f"{parts.scheme}://{parts.netloc}"
                if origin != self.allowed_origin:
                    problems.append(f"{where} a request left {self.allowed_origin}: {url}")
                if params.get("type") == "Script":
                    problems.append(f"{where} a script was requested: {url}")
            elif method in ("Network.webSocketCreated", "Network.webTransportCreated"):
                problems.append(f"{where} {method}: {params.get('url')}")
            elif method == "Network.loadingFinished":
                transferred += int(params.get("encodedDataLength", 0))
            elif method == "Network.responseReceived":
                response = params["response"]
                kind = params.get("type")
                if kind in ("Document", "Stylesheet") and response["status"] >= 400 and not (
                    kind == "Document" and response["status"] == status
                ):
                    problems.append(f"{where} {response['status']} for {response['url']}")
                if kind == "Document" and response["status"] < 300 and status >= 400:
                    problems.append(f"{where} {response['status']} for {response['url']}, "
                                    f"expected {status}")
                csp = {k.lower(): v for k, v in response.get("headers", {}).items()}.get(
                    "content-security-policy", ""
                )
                if (
                    params.get("type") == "Document"
                    and "script-src" not in csp
                    and ("default-src 'none'" not in csp)
                ):
                    problems.append(f"{where} no script-forbidding CSP on {response['url']}")
            elif (
                method == "Network.loadingFailed"
                and params.get("type") in ("Document", "Stylesheet")
                and not params.get("canceled")
            ):
                problems.append(f"{where} loading failed: {params.get('errorText')}")
        if navigated and not requests:
            problems.append(f"{where} no request was logged for this page (performance log off?)")
        return requests, transferred, problems

    def _metrics(self, width: int, height: int, scale: float, mobile: bool) -> float:
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            {
                "width": width,
                "height": height,
                "deviceScaleFactor": scale,
                "mobile": mobile,
            },
        )
        metrics = self.cdp("Page.getLayoutMetrics")
        return float(metrics["cssContentSize"]["width"])

    def _shot(self, name: str, width: int, height: int, scale: float, mobile: bool) -> str:
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            {
                "width": width,
                "height": height,
                "deviceScaleFactor": scale,
                "mobile": mobile,
            },
        )
        content = self.cdp("Page.getLayoutMetrics")["cssContentSize"]
        full = min(max(height, int(content["height"]) + 1), 12000)
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            {
                "width": width,
                "height": full,
                "deviceScaleFactor": scale,
                "mobile": mobile,
            },
        )
        shot = self.cdp("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        path = self.artifacts / f"{name}.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            {
                "width": width,
                "height": height,
                "deviceScaleFactor": scale,
                "mobile": mobile,
            },
        )
        return str(path)

    def _snapshot(self) -> tuple[dict[str, Any], list[str]]:
        snap = self.cdp("DOMSnapshot.captureSnapshot", {"computedStyles": list(_STYLES)})
        return snap["documents"][0], snap["strings"]

    def _readability(self, where: str, viewport: int) -> list[str]:
        """Text smaller than 12 px, or with contrast under WCAG AA (4.5:1; 3:1 for large text)."""
        doc, strings = self._snapshot()
        nodes, layout = doc["nodes"], doc["layout"]
        parents = nodes["parentIndex"]
        node_types = nodes["nodeType"]
        styles_of: dict[int, list[str]] = {}
        bounds_of: dict[int, list[float]] = {}
        for i, node in enumerate(layout["nodeIndex"]):
            styles_of[node] = [strings[s] if s >= 0 else "" for s in layout["styles"][i]]
            bounds_of[node] = layout["bounds"][i]
        findings: list[str] = []
        seen: set[str] = set()

        def style(node: int, name: str) -> str:
            return styles_of.get(node, [""] * len(_STYLES))[_STYLES.index(name)]

        def background(node: int) -> tuple[float, float, float]:
            chain = []
            current = node
            while current >= 0:
                color = (
                    parse_color(style(current, "background-color"))
                    if current in styles_of
                    else None
                )
                if color and color[3] > 0:
                    chain.append(color)
                    if color[3] >= 1:
                        break
                current = parents[current]
            result: tuple[float, float, float] = (255.0, 255.0, 255.0)
            for layer in reversed(chain):
                result = blend(layer, result)
            return result

        for node, bounds in bounds_of.items():
            if node_types[node] != 3:
                continue
            value_index = nodes["nodeValue"][node]
            text = strings[value_index].strip() if value_index >= 0 else ""
            if not text or bounds[2] <= 0 or bounds[3] <= 0 or bounds[0] + bounds[2] <= 0:
                continue
            owner = parents[node]
            if style(owner, "visibility") == "hidden" or style(owner, "opacity") == "0":
                continue
            size = float(style(node, "font-size").removesuffix("px") or 0) or float(
                style(owner, "font-size").removesuffix("px") or 16
            )
            snippet = text[:40]
            if size < MIN_FONT_PX and snippet not in seen:
                seen.add(snippet)
                findings.append(f"{where} text at {size:.1f} px: {snippet!r}")
            fg = parse_color(style(node, "color") or style(owner, "color"))
            if fg is None:
                continue
            bg = background(owner)
            ratio = contrast(blend(fg, bg), bg)
            weight = int(float(style(owner, "font-weight") or 400))
            large = size >= 24 or (size >= 18.66 and weight >= 700)
            need = 3.0 if large else 4.5
            if ratio < need and snippet not in seen:
                seen.add(snippet)
                findings.append(f"{where} contrast {ratio:.2f}:1 (needs {need}:1) for {snippet!r}")
        return findings

    def _targets(self, where: str) -> list[str]:
        """Buttons and form fields smaller than 24x24 CSS px at phone width (WCAG 2.5.8)."""
        doc, strings = self._snapshot()
        nodes, layout = doc["nodes"], doc["layout"]
        findings = []
        for i, node in enumerate(layout["nodeIndex"]):
            name = strings[nodes["nodeName"][node]].lower()
            if name not in ("button", "select", "textarea", "input"):
                continue
            kind = self._attrs(doc, strings, node).get("type", "").lower()
            parent = nodes["parentIndex"][node]
            if kind == "hidden" or (
                kind in ("radio", "checkbox")
                and parent >= 0
                and strings[nodes["nodeName"][parent]].lower() == "label"
            ):
                continue  # a radio inside its <label>: the whole label is the target
            x, _y, w, h = layout["bounds"][i]
            if x + w <= 0 or w == 0:
                continue  # off-screen (the honeypot)
            if w < MIN_TARGET_PX or h < MIN_TARGET_PX:
                findings.append(
                    f"{where} small target at {PHONE[0]} px: <{name}> {w:.0f}x{h:.0f}"
                    f" px ({self._label(doc, strings, node)})"
                )
        return findings

    @staticmethod
    def _attrs(doc: dict[str, Any], strings: list[str], node: int) -> dict[str, str]:
        raw = doc["nodes"]["attributes"][node]
        return {strings[raw[k]]: strings[raw[k + 1]] for k in range(0, len(raw), 2)}

    def _label(self, doc: dict[str, Any], strings: list[str], node: int) -> str:
        attrs = self._attrs(doc, strings, node)
        return " ".join(
            f"{k}={v!r}" for k, v in attrs.items() if k in ("id", "name", "class", "type", "value")
        )[:120]
