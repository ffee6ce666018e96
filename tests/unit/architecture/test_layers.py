"""The folders are the layers: each package imports only packages below it, and no module imports
itself back through another. Read from the source with ``ast`` (imports inside functions count:
a lazy import is still a dependency), so this test needs nothing outside the repository and never skips.

Order, top to bottom (a module may import its own layer and any layer below it):

    plugin, cli  →  checks  →  report  →  reference, generation  →  features  →  metrics, stats
    →  store  →  batch  →  errors, settings, distributed  (and the small shared helpers)
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[3] / "pytest_genquality"
PKG = "pytest_genquality"

# Highest first. A name is a subpackage or a top-level module; modules in one tuple share a layer.
LAYERS: list[tuple[str, ...]] = [
    ("plugin", "cli", "__init__", "testing"),
    ("checks",),
    ("report",),
    ("reference", "generation", "generate"),  # generate.py: 0.2's path of generation.engine
    ("features",),
    ("metrics", "stats"),
    ("store",),
    ("batch",),
    ("errors", "settings", "distributed", "version", "_moved"),
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}

# Upward imports that are known and allowed, each with its reason. Keep this list short: the test
# also fails when an entry is no longer needed, so it can only shrink.
EXCEPTIONS = {
    (
        "pytest_genquality.store.layout",
        "pytest_genquality.reference.reference_stats",
    ): "Store.load_reference (0.2 API, the gen_store fixture) returns ReferenceStats; one lazy import",
}


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = [PKG, *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _is_shim(path: Path) -> bool:
    """A 0.2 path kept as a forwarder (``__getattr__ = forward_to(...)``): exempt, it imports nothing statically."""
    return "forward_to(__name__" in path.read_text()


def _imports(name: str, path: Path) -> set[str]:
    """Every module of the package that ``name`` imports, at any depth of its source."""
    is_pkg = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            # ``from pkg import module`` depends on that module; ``from pkg import name`` on pkg
            candidates = [f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in MODULES else stem for alias in node.names]
        else:
            continue
        found.update(c for c in candidates if c in MODULES)
    found.discard(name)
    return found


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _upward_imports() -> list[tuple[str, str]]:
    upward = []
    for module, targets in sorted(GRAPH.items()):
        for target in sorted(targets):
            if _layer(target) != _layer(module) and RANK.get(_layer(target), -1) < RANK.get(_layer(module), -1):
                upward.append((module, target))
    return upward


GRAPH = {name: _imports(name, path) for name, path in MODULES.items() if not _is_shim(path)}


def test_every_module_has_a_layer():
    unknown = sorted(m for m in GRAPH if _layer(m) not in RANK)
    assert not unknown, f"modules in no layer (add them to LAYERS in {Path(__file__).name}): {unknown}"


def test_imports_point_down():
    upward = [
        f"{module} imports {target} ({_layer(module)} is below {_layer(target)})"
        for module, target in _upward_imports()
        if (module, target) not in EXCEPTIONS
    ]
    assert not upward, "imports that point up a layer:\n  " + "\n  ".join(upward)


def test_every_exception_is_still_needed():
    stale = sorted(set(EXCEPTIONS) - set(_upward_imports()))
    assert not stale, f"remove these from EXCEPTIONS, the import is gone: {stale}"


def test_package_root_is_imported_only_by_shims():
    users = sorted(m for m, targets in GRAPH.items() if PKG in targets and m != PKG)
    assert not users, f"modules that import the package root (import the defining module instead): {users}"


def test_no_import_cycle():
    def internal(module: str, target: str) -> bool:
        # a package and its own submodules (a package __init__ re-exporting its children) are one unit
        return target.startswith(module + ".") or module.startswith(target + ".")

    cycles, state, stack = [], {}, []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(GRAPH.get(node, ())):
            if internal(node, nxt):
                continue
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt) :] + [nxt]))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)
    assert not cycles, "import cycles:\n  " + "\n  ".join(cycles)


def test_the_test_sees_imports_inside_functions():
    """Guard for the parser itself: imports in a function body, relative or absolute, are found."""
    assert f"{PKG}.features.inception" in GRAPH[PKG]  # the package's __getattr__ imports it lazily
    assert f"{PKG}.reference.reference_stats" in GRAPH[f"{PKG}.store.layout"]  # inside load_reference


def test_metrics_import_neither_pytest_nor_files_above():
    """metrics/ is usable without pytest: no module of it imports pytest."""
    users = sorted(
        str(path.relative_to(PACKAGE))
        for path in (PACKAGE / "metrics").rglob("*.py")
        if any(
            isinstance(node, (ast.Import, ast.ImportFrom))
            and any(
                name == "pytest" or name.startswith(("pytest.", "_pytest"))
                for name in ([a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""])
            )
            for node in ast.walk(ast.parse(path.read_text()))
        )
    )
    assert not users, f"metrics modules that import pytest: {users}"


def test_no_module_imports_a_private_module_of_another_package():
    """A module of another package that starts with ``_`` is private to it (``metrics.validation`` is the public one)."""
    private = [
        f"{module} imports {target}"
        for module, targets in sorted(GRAPH.items())
        for target in sorted(targets)
        if target.rsplit(".", 1)[-1].startswith("_")
        and target.rsplit(".", 1)[0] != module.rsplit(".", 1)[0]
        and not target.endswith("._moved")
    ]
    assert not private, "imports of another package's private module:\n  " + "\n  ".join(private)
