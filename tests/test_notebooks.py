"""The notebooks under notebooks/ run from a clean kernel and are committed with outputs stripped.

Each notebook is one test (``pytest -n 2`` spreads them): nbclient starts a fresh ``python3``
kernel in the repository root (so ``examples/...`` resolves) and runs every cell; a failure
names the notebook, the failing cell's index, its first lines and the error.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT_S = 300
SOURCE_LINES = 8  # lines of the failing cell's source in the message
ERROR_LINES = 30  # last lines of its traceback
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class NotebookError(AssertionError):
    """A notebook cell failed: which notebook, which cell (index into ``nb.cells``), its
    source and the error."""

    def __init__(self, name: str, index: int | None, source: str, error: str):
        self.name, self.index, self.source, self.error = name, index, source, error
        head = "\n".join(source.splitlines()[:SOURCE_LINES])
        where = f"cell {index}" if index is not None else "before the first cell"
        super().__init__(
            f"notebook {name}: {where} failed\n--- cell source (first lines) ---\n{head}\n"
            f"--- error ---\n{error}"
        )


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, CellExecutionError):
        lines = ANSI.sub("", str(exc)).strip().splitlines()
        tail = "\n".join(lines[-ERROR_LINES:])
        return f"{exc.ename}: {exc.evalue}\n{tail}"
    return f"{type(exc).__name__}: {ANSI.sub('', str(exc)).strip()}"


def run_notebook(path: Path, timeout: int = CELL_TIMEOUT_S, cwd: Path = ROOT):
    """Execute ``path`` from a clean kernel in ``cwd``; return the executed notebook or raise
    NotebookError naming the failing cell."""
    nb = nbformat.read(path, as_version=4)
    current: dict[str, int] = {}

    def on_cell_start(cell, cell_index):
        current["index"] = cell_index

    client = nbclient.NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd)}},
        on_cell_start=on_cell_start,
    )
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
        index = current.get("index")
        source = nb.cells[index].source if index is not None else ""
        raise NotebookError(path.name, index, source, _error_text(exc)) from None
    return nb


def test_notebooks_are_present():
    names = {p.name for p in NOTEBOOKS}
    expected = {"planning.ipynb", "what_if.ipynb", "calibration.ipynb", "search_and_engines.ipynb"}
    assert expected <= names, f"missing: {sorted(expected - names)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path):
    nb = run_notebook(path)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, f"{path.name}: error outputs {errors}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_stripped(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", (
        f"{path.name}: kernelspec must be python3"
    )
    assert nb.cells and nb.cells[0].cell_type == "markdown", (
        f"{path.name}: the first cell must be markdown saying what the notebook answers"
    )
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        assert cell.outputs == [], f"{path.name}: cell {i} has outputs; strip them"
        assert cell.execution_count is None, f"{path.name}: cell {i} has an execution_count"
        assert "execution" not in cell.metadata, f"{path.name}: cell {i} keeps execution timing"


def test_failing_cell_is_named(tmp_path):
    nb = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}}
    )
    nb.cells = [
        nbformat.v4.new_markdown_cell("# broken on purpose"),
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("1/0"),
        nbformat.v4.new_code_cell("never = 'reached'"),
    ]
    path = tmp_path / "broken.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(NotebookError) as info:
        run_notebook(path, timeout=60)
    err = info.value
    assert (err.name, err.index, err.source) == ("broken.ipynb", 2, "1/0")
    message = str(err)
    assert "broken.ipynb" in message
    assert "cell 2" in message
    assert "1/0" in message
    assert "ZeroDivisionError" in message


def test_cwd_is_the_repository_root(tmp_path):
    nb = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}}
    )
    nb.cells = [nbformat.v4.new_code_cell("from pathlib import Path\nPath.cwd()")]
    path = tmp_path / "cwd.ipynb"
    nbformat.write(nb, path)
    out = run_notebook(path, timeout=60).cells[0].outputs[0]["data"]["text/plain"]
    assert str(ROOT) in out
