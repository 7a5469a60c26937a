"""The product's shape: cryptography only in keys/, modules in layers, the console in small files.

`keys/` is the one package that imports libsodium's bindings (nacl) or argon2: everyone else holds
keys.keytypes names, so a review of the cryptography reads one package. No product module imports,
directly or through others, a module that imports it: each is understood from those below it.
"""

from __future__ import annotations

import ast
from pathlib import Path

from support.processes import REPO

PRODUCT = ("keys", "dropbox", "journalist_console")
CRYPTO_LIBRARIES = ("nacl", "argon2")
MAX_CONSOLE_MODULE_LINES = 450


def _modules() -> dict[str, Path]:
    found = {}
    for package in PRODUCT:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imports(path: Path) -> set[str]:
    """Every module an import statement anywhere in the file names (functions included)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_only_keys_imports_the_cryptographic_libraries() -> None:
    offenders = [
        f"{name} imports {imported}"
        for name, path in _modules().items()
        if not name.startswith("keys")
        for imported in sorted(_imports(path))
        if imported.split(".")[0] in CRYPTO_LIBRARIES
    ]
    assert offenders == []


def test_no_product_module_imports_its_own_importer() -> None:
    modules = _modules()
    graph = {
        name: {imported for imported in _imports(path) if imported in modules and imported != name}
        for name, path in modules.items()
    }
    cycles = []
    for start in graph:
        stack, seen = [(start, (start,))], set()
        while stack:
            name, trail = stack.pop()
            for imported in graph[name]:
                if imported == start:
                    cycles.append(" -> ".join((*trail, start)))
                elif imported not in seen:
                    seen.add(imported)
                    stack.append((imported, (*trail, imported)))
    # A package importing its own submodules (journalist_console.web -> .web.app) is no circle.
    cycles = [cycle for cycle in cycles if not _package_and_member(cycle)]
    assert cycles == []


def _package_and_member(cycle: str) -> bool:
    names = cycle.split(" -> ")
    pairs = zip(names, names[1:], strict=False)
    return any(b.startswith(a + ".") or a.startswith(b + ".") for a, b in pairs)


def test_every_console_module_is_small() -> None:
    sizes = {
        str(path.relative_to(REPO)): len(path.read_text("utf-8").splitlines())
        for path in sorted((REPO / "journalist_console").rglob("*.py"))
    }
    assert {name: lines for name, lines in sizes.items() if lines >= MAX_CONSOLE_MODULE_LINES} == {}
