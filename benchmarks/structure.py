"""The package's shape in figures: import layers, the longest internal import chain, the longest functions.

    python benchmarks/structure.py [PACKAGE_DIR]

Reads the source with ``ast`` (nothing is imported).  A module's layer is 0 when it imports no other
module of the package, else one more than the highest layer it imports; imports inside functions
count (they are dependencies all the same).  A cycle is reported instead of a layer.  The chain is
the longest path of internal imports; the functions are ranked by their line count (``def`` to last line).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path


def internal_imports(path: Path, package: str, modules: set[str]) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                names = [node.module] if node.module else [alias.name for alias in node.names]
            elif node.module and node.module.startswith(package + "."):
                names = [node.module.split(".", 1)[1]]
            elif node.module == package:
                names = [alias.name for alias in node.names]
            else:
                continue
            found.update(name.split(".")[0] for name in names if name and name.split(".")[0] in modules)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(package + "."):
                    name = alias.name.split(".")[1]
                    if name in modules:
                        found.add(name)
    return found - {path.stem}


def main(root: Path) -> int:
    package = root.name
    files = {p.stem: p for p in sorted(root.glob("*.py"))}
    graph = {name: internal_imports(path, package, set(files)) for name, path in files.items()}
    layer: dict[str, int] = {}
    chain: dict[str, list[str]] = {}

    def visit(name: str, stack: tuple[str, ...]) -> int:
        if name in stack:
            raise SystemExit(f"import cycle: {' -> '.join((*stack[stack.index(name) :], name))}")
        if name not in layer:
            deps = sorted(graph[name])
            for dep in deps:
                visit(dep, (*stack, name))
            layer[name] = 1 + max((layer[d] for d in deps), default=-1)
            longest = max((chain[d] for d in deps), key=len, default=[])
            chain[name] = [name, *longest]
        return layer[name]

    for name in files:
        visit(name, ())
    print("import layers (0 = imports no other module of the package):")
    for level in range(max(layer.values()) + 1):
        print(f"  {level}: {' '.join(sorted(n for n in layer if layer[n] == level))}")
    top = max(chain.values(), key=len)
    print(f"longest internal import chain ({len(top)} modules): {' -> '.join(top)}")
    edges = sum(len(v) for v in graph.values())
    print(f"modules: {len(files)}, internal import edges: {edges}")
    functions = []
    for stem, path in files.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                end = node.end_lineno or node.lineno
                functions.append((end - node.lineno + 1, f"{stem}.py", node.name, node.lineno, end))
    functions.sort(key=lambda row: (-row[0], row[1], row[3]))
    print("ten longest functions (lines, file, name, span):")
    for size, file, name, start, end in functions[:10]:
        print(f"  {size:4d}  {file}  {name}  {start}-{end}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "hatch_funasr"))
