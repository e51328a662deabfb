"""The package's imports flow one way, downwards through its layers, and never in a circle.

Layers, lowest first (amass_fast/__init__.py draws the same map):

   -1  finite, _build                 float checks every layer shares; the build and import check
    0  schemas/                        the shared tables: skeleton, layouts, cameras, mirroring
    1  io/ | kernels/                  files in and out | the hot path (neither imports the other)
    2  labels/
    3  outputs/
    4  process/ | humanml3d/
    5  cli/
    6  harness/                        demo, bench, synthetic data, the hostile corpus (it runs commands)

A module may import its own layer's package and any lower layer, never a higher one nor a sibling package of its
own layer. Every import statement counts, those inside functions too, so an edge cannot be hidden by importing late;
the modules the CLI and the backends load by name (importlib) are the one lazy boundary, kept for a quick `--help`.
"""
from __future__ import annotations

import ast
from pathlib import Path

import amass_fast

PACKAGE = Path(amass_fast.__file__).parent
LAYERS = {"finite": -1, "_build": -1, "schemas": 0, "io": 1, "kernels": 1, "labels": 2, "outputs": 3, "process": 4,
          "humanml3d": 4, "cli": 5, "harness": 6, "__main__": 7}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


MODULES = _modules()


def _owner(name: str) -> str:
    """The module a dotted name lives in: the name itself, or its longest prefix that is a module."""
    while name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def _edges() -> dict[str, set[str]]:
    edges = {}
    for module, path in MODULES.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(_owner(a.name) for a in node.names if a.name.split(".")[0] == "amass_fast")
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and \
                    node.module.split(".")[0] == "amass_fast":
                for a in node.names:
                    full = f"{node.module}.{a.name}"
                    targets.add(full if full in MODULES else _owner(node.module))
            elif isinstance(node, ast.ImportFrom) and node.level:
                raise AssertionError(f"{path}: a relative import; spell imports absolutely (amass_fast....)")
        targets.discard(module)
        edges[module] = targets
    return edges


EDGES = _edges()


def _layer(module: str) -> tuple[str, int]:
    top = module.split(".")[1] if "." in module else ""
    assert top in LAYERS, f"{module}: not in a layer; add its folder to LAYERS here and to amass_fast/__init__.py"
    return top, LAYERS[top]


def test_every_module_belongs_to_a_layer():
    for module in MODULES:
        if module != "amass_fast":
            _layer(module)


def test_imports_never_go_up_or_sideways():
    wrong = []
    for module, targets in EDGES.items():
        if module == "amass_fast":
            continue  # the package's lazy public names reach into every layer by design
        package, rank = _layer(module)
        for target in targets:
            if target == "amass_fast":
                continue  # __version__
            other, other_rank = _layer(target)
            if other_rank > rank or (other_rank == rank and other != package):
                wrong.append(f"{module} -> {target}")
    assert not wrong, "imports against the layer order:\n  " + "\n  ".join(sorted(wrong))


def test_no_import_circle():
    """Tarjan's strongly connected components over module edges: every component is one module."""
    index, low, stack, on_stack, circles, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in EDGES.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(EDGES):
        if module not in index:
            visit(module)
    assert not circles, f"import circles: {circles}"


def test_the_checker_sees_what_it_must():
    """The rules above are not vacuous: known downward edges are found, and an upward one would be reported."""
    assert "amass_fast.kernels.prepared" in EDGES["amass_fast.kernels"]
    assert "amass_fast.schemas.layouts" in EDGES["amass_fast.outputs.writers"]
    assert any(t.startswith("amass_fast.cli") for t in EDGES["amass_fast.harness.selftest.processing"])
    assert _layer("amass_fast.cli.process")[1] > _layer("amass_fast.process.plan")[1] > \
        _layer("amass_fast.kernels.prepared")[1] > _layer("amass_fast.schemas.cameras")[1]
