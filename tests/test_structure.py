"""The shape issue 11 asks of chatroom/: no import cycles, small modules, no private imports.

Read from the source with `ast`, nothing is imported: every `import` statement counts,
including those under `if TYPE_CHECKING:` and inside functions. Each check names every
offender, with the file and line that causes it.
"""

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 400


@dataclass(frozen=True, slots=True)
class Import:
    """One imported thing: `module` (a module of the package) and, for `from M import
    name`, the `name` when it is not itself a module."""

    importer: str
    module: str
    name: str | None
    line: int

    def where(self, modules: dict[str, Path], root: Path) -> str:
        return f"{modules[self.importer].relative_to(root)}:{self.line}"


def find_modules(root: Path, package: str) -> dict[str, Path]:
    """Every module of `package` (a folder under `root`) by dotted name; a package's
    `__init__.py` under the package's own name."""
    modules = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _absolute(importer: str, is_package: bool, level: int, module: str | None) -> str:
    """The absolute name `from <level dots><module>` means inside `importer`."""
    if level == 0:
        return module or ""
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def _known(name: str, modules: dict[str, Path]) -> str | None:
    """`name` or its longest prefix that is a module of the package."""
    parts = name.split(".")
    while parts:
        if ".".join(parts) in modules:
            return ".".join(parts)
        parts.pop()
    return None


def find_imports(modules: dict[str, Path]) -> list[Import]:
    """Every import of one of `modules` by another, resolved to the module it loads."""
    found = []
    for importer, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if (target := _known(alias.name, modules)) is not None:
                        found.append(Import(importer, target, None, node.lineno))
            elif isinstance(node, ast.ImportFrom):
                source = _absolute(importer, is_package, node.level, node.module)
                for alias in node.names:
                    if f"{source}.{alias.name}" in modules:  # `from package import module`
                        found.append(Import(importer, f"{source}.{alias.name}", None, node.lineno))
                    elif source in modules:
                        found.append(Import(importer, source, alias.name, node.lineno))
    return found


def find_cycles(imports: list[Import]) -> list[list[Import]]:
    """Import cycles, one for each edge a depth-first search finds pointing back into its
    own path (so each cycle to break shows up at least once)."""
    edges: dict[str, dict[str, Import]] = {}
    for edge in imports:
        if edge.module != edge.importer:
            edges.setdefault(edge.importer, {}).setdefault(edge.module, edge)
    cycles: list[list[Import]] = []
    seen: set[frozenset[Import]] = set()
    done: set[str] = set()
    path: list[Import] = []
    on_path: dict[str, int] = {}

    def visit(module: str) -> None:
        on_path[module] = len(path)
        for target, edge in sorted(edges.get(module, {}).items()):
            if target in on_path:
                cycle = [*path[on_path[target] :], edge]
                if frozenset(cycle) not in seen:
                    seen.add(frozenset(cycle))
                    cycles.append(cycle)
            elif target not in done:
                path.append(edge)
                visit(target)
                path.pop()
        del on_path[module]
        done.add(module)

    for module in sorted(edges):
        if module not in done:
            visit(module)
    return cycles


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_imports(modules: dict[str, Path]) -> list[Import]:
    """Imports of a `_name` defined in another module, and of a `_module` from outside
    the package that holds it (a package may use its own private modules)."""
    offenders = []
    for edge in find_imports(modules):
        if edge.name is not None and is_private(edge.name):
            offenders.append(edge)
        private_parts = [i for i, part in enumerate(edge.module.split(".")) if is_private(part)]
        if private_parts:
            owner = ".".join(edge.module.split(".")[: private_parts[0]])
            if not (edge.importer == owner or edge.importer.startswith(owner + ".")):
                offenders.append(edge)
    return offenders


def long_modules(modules: dict[str, Path], limit: int) -> dict[str, int]:
    lengths = {name: len(path.read_text().splitlines()) for name, path in modules.items()}
    return {name: count for name, count in lengths.items() if count > limit}


def describe_cycle(cycle: list[Import], modules: dict[str, Path], root: Path) -> str:
    steps = " → ".join(f"{edge.module} ({edge.where(modules, root)})" for edge in cycle)
    return f"{cycle[0].importer} → {steps}"


def test_no_import_cycle_among_chatroom_modules_even_under_type_checking() -> None:
    modules = find_modules(ROOT, "chatroom")
    cycles = find_cycles(find_imports(modules))
    assert not cycles, "import cycles:\n" + "\n".join(
        describe_cycle(cycle, modules, ROOT) for cycle in cycles
    )


def test_no_module_in_chatroom_is_over_400_lines() -> None:
    modules = find_modules(ROOT, "chatroom")
    too_long = long_modules(modules, MAX_LINES)
    assert not too_long, f"modules over {MAX_LINES} lines:\n" + "\n".join(
        f"{modules[name].relative_to(ROOT)}: {count}" for name, count in sorted(too_long.items())
    )


def test_no_module_imports_a_private_name_from_another() -> None:
    modules = find_modules(ROOT, "chatroom")
    offenders = private_imports(modules)
    assert not offenders, "private names imported from another module:\n" + "\n".join(
        f"{edge.where(modules, ROOT)}: {edge.importer} imports "
        f"{edge.module}{'.' + edge.name if edge.name else ''}"
        for edge in offenders
    )


# The checks themselves, on a package made up for the purpose (these must pass today):


def make_package(root: Path, files: dict[str, str]) -> dict[str, Path]:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return find_modules(root, "pkg")


def test_a_cycle_through_a_type_checking_import_is_found(tmp_path: Path) -> None:
    modules = make_package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg.b import thing\n",
            "pkg/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from .sub import c\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/c.py": "from .. import a\n",
            "pkg/d.py": "import pkg.a\n",
        },
    )
    cycles = find_cycles(find_imports(modules))
    assert [[edge.module for edge in cycle] for cycle in cycles] == [
        ["pkg.b", "pkg.sub.c", "pkg.a"]
    ]
    assert describe_cycle(cycles[0], modules, tmp_path).startswith("pkg.a → pkg.b (pkg/a.py:1)")


def test_modules_without_a_cycle_pass(tmp_path: Path) -> None:
    modules = make_package(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.a import x\n",
            "pkg/a.py": "import pkg.b\nfrom pkg import c\n",
            "pkg/b.py": "from . import c\n",
            "pkg/c.py": "import os\n",
        },
    )
    assert find_cycles(find_imports(modules)) == []


def test_private_names_and_modules_imported_from_outside_are_found(tmp_path: Path) -> None:
    modules = make_package(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "_secret = 1\n__all__ = []\n",
            "pkg/b.py": "from pkg.a import _secret, __all__\nfrom pkg.store import _schema\n",
            "pkg/store/__init__.py": "from . import _schema\n",
            "pkg/store/_schema.py": "",
            "pkg/store/sqlite.py": "from ._schema import TABLES\n",
        },
    )
    assert [(e.importer, e.module, e.name) for e in private_imports(modules)] == [
        ("pkg.b", "pkg.a", "_secret"),
        ("pkg.b", "pkg.store._schema", None),
    ]


def test_long_modules_are_counted_by_lines(tmp_path: Path) -> None:
    modules = make_package(tmp_path, {"pkg/__init__.py": "", "pkg/a.py": "x = 1\n" * 401})
    assert long_modules(modules, 400) == {"pkg.a": 401}


def test_every_program_is_started_through_programs_py() -> None:
    """pyproject.toml's console scripts go through chatroom/utils/programs.py (Ctrl+C
    while loading is one line there), each to a module that has a `main`."""
    import importlib
    import tomllib

    from chatroom.utils import programs

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert sorted(scripts) == sorted(programs.PROGRAMS)
    for name, target in scripts.items():
        module, _, function = target.partition(":")
        assert module == "chatroom.utils.programs"
        assert callable(importlib.import_module(programs.PROGRAMS[name]).main)
        assert getattr(programs, function).args == (name,)
