"""The code keeps the shape the project promises: short functions (ruff's C901 checks complexity),
and `model/` divided into sub-packages with few modules left at its top."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_FUNCTION_LINES = 80


def _sources() -> list[Path]:
    return [ROOT / "app.py", *sorted((ROOT / "model").rglob("*.py")), *sorted((ROOT / "ui").rglob("*.py"))]


def test_no_function_is_longer_than_80_lines():
    long = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({lines} lines)")
    assert not long


def test_model_keeps_at_most_ten_modules_at_its_top():
    top = [p.name for p in (ROOT / "model").glob("*.py") if p.name != "__init__.py"]
    assert len(top) <= 10, top


def test_model_has_no_gradio():
    """Everything with gradio lives in ui/ (and app.py); model/ is the part a program can reuse."""
    users = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "model").rglob("*.py")
        if "import gradio" in p.read_text() or "from gradio" in p.read_text()
    ]
    assert not users
