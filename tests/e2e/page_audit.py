"""Checks of a page's HTML and colours that need no browser: controls without labels, inline
scripts and event handlers, other-origin URLs (`audit_html`), and WCAG 2.x contrast.
"""

from __future__ import annotations

import html.parser
import re
from typing import Any

LANDING_BUDGET = 30 * 1024  # landing page HTML + CSS, bytes as served
PAGE_BUDGET = 48 * 1024  # any other page of the source site: everything it loaded, on the wire
MIN_FONT_PX = 12.0
MIN_TARGET_PX = 24.0  # WCAG 2.2 SC 2.5.8, target size (minimum)


# ----------------------------------------------------------------------------------------------
# Static checks on the DOM (stdlib html.parser)

_CONTROLS = ("input", "select", "textarea")
_UNLABELLED_TYPES = ("hidden", "submit", "reset", "button", "image")
_EVENT_ATTR = re.compile(r"^on[a-z]+$")


class _DomAudit(html.parser.HTMLParser):
    """Scripts, script-ish attributes and URLs, form controls and their labels."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.ids: set[str] = set()
        self.label_for: set[str] = set()
        self.controls: list[dict[str, str]] = []  # attrs of every control that needs a label
        self.open_labels = 0
        self.buttons: list[dict[str, Any]] = []
        self._button: dict[str, Any] | None = None
        self.html_lang = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if "id" in values:
            self.ids.add(values["id"])
        if tag == "html":
            self.html_lang = values.get("lang", "")
        if tag in ("script", "noscript", "iframe", "object", "embed", "frame"):
            self.problems.append(f"<{tag}> element")
        for name, value in values.items():
            if _EVENT_ATTR.match(name):
                self.problems.append(f"event-handler attribute {name} on <{tag}>")
            if name in (
                "href",
                "src",
                "action",
                "formaction",
                "data",
            ) and value.strip().lower().startswith(("javascript:", "data:text/html", "vbscript:")):
                self.problems.append(f"script URL in {name} of <{tag}>")
        if tag == "label":
            self.open_labels += 1
            if values.get("for"):
                self.label_for.add(values["for"])
        if tag in _CONTROLS:
            kind = values.get("type", "text").lower() if tag == "input" else tag
            if kind not in _UNLABELLED_TYPES:
                self.controls.append({**values, "_tag": tag, "_wrapped": str(self.open_labels)})
            if (
                tag == "input"
                and kind in ("submit", "button", "reset")
                and not (values.get("value") or values.get("aria-label"))
            ):
                self.problems.append(f"<input type={kind}> without a visible name")
        if tag == "button":
            self._button = {"attrs": values, "text": ""}

    def handle_endtag(self, tag: str) -> None:
        if tag == "label" and self.open_labels:
            self.open_labels -= 1
        if tag == "button" and self._button is not None:
            self.buttons.append(self._button)
            self._button = None

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button["text"] += data

    def unlabelled(self) -> list[str]:
        out = []
        for control in self.controls:
            ident = control.get("id", "")
            named = (
                (ident and ident in self.label_for)
                or control["_wrapped"] != "0"  # an implicit label: the control sits in a <label>
                or control.get("aria-label", "").strip()
                or (
                    control.get("aria-labelledby")
                    and all(ref in self.ids for ref in control["aria-labelledby"].split())
                )
                or control.get("title", "").strip()
            )
            if not named:
                out.append(f"<{control['_tag']} name={control.get('name')!r} id={ident!r}>")
        for button in self.buttons:
            if not (button["text"].strip() or button["attrs"].get("aria-label", "").strip()):
                out.append(f"<button> without a name ({button['attrs']})")
        for ident in self.label_for:
            if ident not in self.ids:
                out.append(f"<label for={ident!r}> points at no element")
        return out


def audit_html(source: str) -> _DomAudit:
    audit = _DomAudit()
    audit.feed(source)
    audit.close()
    return audit


# ----------------------------------------------------------------------------------------------
# Colours (WCAG 2.x relative luminance and contrast)

_RGB = re.compile(r"rgba?\(([^)]+)\)")


def parse_color(text: str) -> tuple[float, float, float, float] | None:
    match = _RGB.match(text.strip())
    if not match:
        return None
    parts = [p.strip() for p in match.group(1).replace("/", ",").split(",")]
    r, g, b = (float(p) for p in parts[:3])
    alpha = float(parts[3]) if len(parts) > 3 else 1.0
    return r, g, b, alpha


def _luminance(rgb: tuple[float, float, float]) -> float:
    def channel(value: float) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg: tuple[float, float, float], bg: tuple[float, float, float]) -> float:
    light, dark = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def blend(
    top: tuple[float, float, float, float],
    under: tuple[float, float, float],
) -> tuple[float, float, float]:
    alpha = top[3]
    return tuple(top[i] * alpha + under[i] * (1 - alpha) for i in range(3))  # type: ignore[return-value]

