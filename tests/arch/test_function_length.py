"""No function in src/ runs over 60 lines unless its docstring says why ("Long because: ...")."""
from __future__ import annotations

import ast

from tests.arch.imports import SRC


def test_long_functions_say_why():
    long = []
    for path in sorted((SRC / "seqrl").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > 60 and "Long because" not in (ast.get_docstring(node) or ""):
                    long.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name} ({length} lines)")
    assert not long, "\n".join(long)
