"""The package layout: imports only run downward, one folder per study."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "helpers"
# Lower layers first; a module may import from its own layer and the ones before it.
LAYERS = ["top", "data", "models", "report", "studies", "site"]
TOP = {"errors", "files", "memo", "__init__"}
ENTRY_POINTS = {"helpers.__main__"}
# Read once: the page language catalogs are a leaf every layer may read.
SHARED_LEAVES = {"helpers.report.i18n"}
STUDY_PRIVATE = {"narrative", "figures", "tables", "pages"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)
_KNOWN = {_module_name(p) for p in MODULES}


def _layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] in TOP:
        return "top"
    return parts[1]


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("helpers"):
            # "from package import module" imports the module, not the package's __init__
            submodules = [f"{node.module}.{a.name}" for a in node.names]
            found += [(node.lineno, m) for m in submodules if m in _KNOWN or node.module == "helpers"]
            if not any(m in _KNOWN for m in submodules) and node.module != "helpers":
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("helpers")]
    return found




@pytest.mark.parametrize("path", MODULES, ids=lambda p: _module_name(p))
def test_imports_run_downward(path):
    here = _module_name(path)
    if here in ENTRY_POINTS:
        return
    mine = LAYERS.index(_layer(here))
    for line, target in _imports(path):
        if target in SHARED_LEAVES or target == "helpers.__version__" or target == "helpers":
            continue
        theirs = LAYERS.index(_layer(target))
        assert theirs <= mine, f"{here} (line {line}) imports {target}, a higher layer"


@pytest.mark.parametrize("path", [p for p in MODULES if "studies" in p.parts], ids=lambda p: _module_name(p))
def test_a_study_never_imports_another_studys_page_parts(path):
    here = _module_name(path).split(".")
    for line, target in _imports(path):
        parts = target.split(".")
        if len(parts) >= 4 and parts[1] == "studies" and parts[2] != here[2]:
            assert parts[3] not in STUDY_PRIVATE, f"{'.'.join(here)} (line {line}) imports {target}"


def test_top_level_stays_small_and_studies_read_alike():
    entries = [p.name for p in PACKAGE.iterdir() if p.name != "__pycache__"]
    assert len(entries) <= 11, sorted(entries)
    for study in (PACKAGE / "studies").iterdir():
        if study.is_dir() and study.name != "__pycache__":
            names = {p.stem for p in study.glob("*.py")}
            assert {"__init__", "narrative", "figures"} <= names, f"{study.name}: {sorted(names)}"


def test_no_import_cycles():
    graph: dict[str, set[str]] = {}
    known = {_module_name(p) for p in MODULES}
    for path in MODULES:
        targets = set()
        for _, target in _imports(path):
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != "helpers":
                targets.add(target)
        graph[_module_name(path)] = targets - {_module_name(path)}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and (seen.add(nxt) or reaches(nxt, goal, seen))):
                return True
        return False

    cycles = [m for m in graph if reaches(m, m, set())]
    # a package importing its own modules is not a cycle a reader trips over
    cycles = [m for m in cycles if not all(t.startswith(m + ".") for t in graph[m])]
    assert not cycles, f"modules on an import cycle: {sorted(cycles)}"
