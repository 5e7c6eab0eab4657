"""The package layout holds: layers point one way, no import cycles, no hidden project imports.

The contracts live in pyproject.toml (`[tool.importlinter]`) and are checked with import-linter, the
maintained tool for exactly this. A copy of the code with one upward import added shows that the
check fails when it should.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).with_name("lint-imports")
OWN = ("assistant", "console", "pipelines")
# Modules allowed directly in assistant/ (issue 15); everything else lives in a domain sub-package.
TOP_LEVEL = {"__init__", "__main__", "cli", "errors", "config", "protocols", "vocab"}


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    if not LINT.exists():
        pytest.fail(f"{LINT} not found: install the test extras (scripts/setup.sh)")
    return subprocess.run(
        [str(LINT), "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)},
    )


def copy_code(dest: Path) -> None:
    for name in OWN:
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")


def test_the_layer_and_cycle_contracts_hold() -> None:
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def lint_with_added_import(tmp_path: Path, module: str, line: str) -> str:
    """Lint a copy of the code where `module` (a path under assistant/) has `line` appended."""
    copy_code(tmp_path)
    path = tmp_path / "assistant" / module
    path.write_text(path.read_text() + f"\n{line}  # noqa\n")
    result = lint(tmp_path)
    assert result.returncode != 0, result.stdout[-2000:]
    return result.stdout


def test_an_upward_import_and_a_cycle_break_the_contracts(tmp_path: Path) -> None:
    # knowledge is imported by digest; knowledge importing digest is both upward and a cycle.
    out = lint_with_added_import(tmp_path, "knowledge/articles.py", "from assistant.digest import build")
    assert "assistant.knowledge.articles -> assistant.digest.build" in out and "BROKEN" in out


def test_a_cycle_inside_a_package_breaks_the_contract(tmp_path: Path) -> None:
    # cluster is imported by build; cluster importing build closes a cycle within assistant.digest.
    out = lint_with_added_import(tmp_path, "digest/cluster.py", "from assistant.digest import build")
    assert "No cycles are allowed in assistant.digest" in out


def test_only_the_entry_points_and_shared_basics_sit_directly_in_assistant() -> None:
    flat = {p.stem for p in (ROOT / "assistant").glob("*.py")}
    assert flat <= TOP_LEVEL, f"move into a sub-package: {sorted(flat - TOP_LEVEL)}"
    for package in (p for p in (ROOT / "assistant").iterdir() if p.is_dir() and p.name != "__pycache__"):
        init = package / "__init__.py"
        assert init.is_file(), f"{package} is not a package"
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc and "import" in doc, f"{init}: say what lives here and what it may import"


def function_level_imports(path: Path) -> list[str]:
    found = []
    tree = ast.parse(path.read_text())
    for func in ast.walk(tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(func):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom) and node.level == 0
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            found += [f"{path.relative_to(ROOT)}:{node.lineno} {n}" for n in names if n.split(".")[0] in OWN]
    return found


def test_the_projects_own_imports_sit_at_module_level() -> None:
    """A function-level import hides a cycle until the function runs. Only `assistant/commands/`, the
    top layer that nothing imports, may defer one (the service's FastAPI app, for CLI start-up time)."""
    hidden = []
    for name in OWN:
        for path in sorted((ROOT / name).rglob("*.py")):
            if path.parent.name != "commands":
                hidden += function_level_imports(path)
    assert not hidden, hidden
