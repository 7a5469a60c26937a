"""The source site's templates, compiled once per language with their constant texts translated.

A page is mostly fixed text: the landing page holds about 45 `_("...")` calls, the report form
about 65. Translating them at every render was most of what a page cost. Here each language has
its own compiled copy of every template, in which a call `_("constant text")` (no arguments) is
replaced, when the template is compiled, by its translation: exactly what the call would return
at render time (a Markup string, `%%` folded as the call folds it). Calls with arguments, plural
forms and everything else still run at render time. The output is byte for byte the same.

The language is the request's (dropbox/i18n.py); outside a request, or for a language without a
catalog, templates are compiled as they are.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from pathlib import Path
from typing import Any

from babel.support import NullTranslations, Translations
from flask import has_request_context
from flask.templating import Environment
from jinja2 import Template, nodes
from jinja2.visitor import NodeTransformer
from markupsafe import Markup, escape

from dropbox.i18n import LANGUAGES, current_language

_GETTEXT_NAMES = frozenset({"_", "gettext"})


class _ConstantTexts(NodeTransformer):
    """Replaces `_("literal")` by its translation; leaves every other call alone."""

    def __init__(self, translations: NullTranslations) -> None:
        self.translations = translations

    def visit_Call(self, node: nodes.Call) -> nodes.Node:  # noqa: N802 (the visitor's naming)
        if (
            isinstance(node.node, nodes.Name)
            and node.node.name in _GETTEXT_NAMES
            and len(node.args) == 1
            and isinstance(node.args[0], nodes.Const)
            and isinstance(node.args[0].value, str)
            and not (node.kwargs or node.dyn_args or node.dyn_kwargs)
        ):
            translated = self.translations.ugettext(node.args[0].value)
            try:
                # What the newstyle gettext does with no variables: format with an empty mapping.
                text = str(Markup(translated) % {})  # noqa: S704 (our catalog, as gettext does)
            except (KeyError, TypeError, ValueError):
                return self.generic_visit(node)
            return nodes.MarkSafeIfAutoescape(nodes.Const(text), lineno=node.lineno)
        return self.generic_visit(node)


class PageEnvironment(Environment):
    """Flask's template environment, dispatching to a per-language copy during a request."""

    constant_translations: NullTranslations | None = None
    translations_dir: Path | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._by_language: dict[str, PageEnvironment] = {}

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        if self.constant_translations is not None:
            tree = _ConstantTexts(self.constant_translations).visit(tree)
        return tree

    def _for_request(self) -> PageEnvironment | None:
        if self.constant_translations is not None or self.translations_dir is None:
            return None  # a language's copy itself, or not configured
        if not has_request_context():
            return None
        language = current_language()
        if language not in LANGUAGES:
            return None
        found = self._by_language.get(language)
        if found is None:
            found = self.overlay()  # shares the loader, globals and filters; own cache
            found._by_language = {}
            found.constant_translations = Translations.load(
                str(self.translations_dir), [language], "messages"
            )
            self._by_language[language] = found
        return found

    def get_template(
        self,
        name: str | Template,
        parent: str | None = None,
        globals: MutableMapping[str, Any] | None = None,  # noqa: A002 (jinja's signature)
    ) -> Template:
        localized = self._for_request()
        if localized is not None:
            return localized.get_template(name, parent, globals)
        return super().get_template(name, parent, globals)

    def select_template(
        self,
        names: Iterable[str | Template],
        parent: str | None = None,
        globals: MutableMapping[str, Any] | None = None,  # noqa: A002 (jinja's signature)
    ) -> Template:
        localized = self._for_request()
        if localized is not None:
            return localized.select_template(names, parent, globals)
        return super().select_template(names, parent, globals)


class PageCache:
    """Pages that are the same for every visitor of one kind, rendered once per language and
    served from memory; a form's per-visitor values (its token, its ticket) are markers in the
    cached text, filled in for each request. Only what has no visitor data in it is cached: the
    callers decide (no flashed message, no values, no errors)."""

    def __init__(self) -> None:
        self._pages: dict[tuple[Any, ...], str] = {}
        self._lock = threading.Lock()

    @staticmethod
    def marker(name: str) -> str:
        # Letters only: it survives HTML escaping and URL building unchanged.
        return f"WBSFILL{name.upper()}WBSFILL"

    def page(
        self, key: tuple[Any, ...], render: Callable[[], str], fills: Mapping[str, str]
    ) -> str:
        text = self._pages.get(key)
        if text is None:
            text = render()
            with self._lock:
                self._pages.setdefault(key, text)
        return self.fill(text, fills)

    @classmethod
    def fill(cls, text: str, fills: Mapping[str, str]) -> str:
        """`text` with each marker replaced by its value, escaped as the template would."""
        for name, value in fills.items():
            text = text.replace(cls.marker(name), str(escape(value)))
        return text
