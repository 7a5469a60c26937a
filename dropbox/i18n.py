"""The page language: Indonesian by default, English on request (a link, no JavaScript)."""

from __future__ import annotations

from pathlib import Path

from flask import session

LANGUAGES = ("id", "en")
DEFAULT_LANGUAGE = "id"
TRANSLATIONS = Path(__file__).resolve().parent / "translations"


def current_language() -> str:
    language = session.get("lang") if session else None
    return language if language in LANGUAGES else DEFAULT_LANGUAGE
