"""Executing the report notebook: in this process (default) and in a Jupyter kernel, with the same outputs."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from flows.report import execute
from flows.report.execute import NotebookCellError, run_notebook
from flows.report.render import render_report
from flows.settings import Settings


def notebook(path: Path, *sources: str) -> Path:
    """A notebook whose first cell is papermill's parameters cell (`x = 0`), then `sources`."""
    cells = [nbformat.v4.new_code_cell("x = 0", metadata={"tags": ["parameters"]})]
    cells += [nbformat.v4.new_code_cell(source) for source in sources]
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": kernelspec}), path)
    return path


def outputs(nb: nbformat.NotebookNode) -> list[list[dict]]:
    return [[dict(o) for o in cell.outputs] for cell in nb.cells if cell.cell_type == "code"]


@pytest.mark.slow
def test_in_process_and_kernel_renders_are_byte_identical(bundled_warehouse: Settings, tmp_path: Path) -> None:
    in_process = render_report(bundled_warehouse, "0440T", out_dir=tmp_path / "in_process")
    render_report(bundled_warehouse.replace(report_kernel="python3"), "0440T", out_dir=tmp_path / "kernel")
    files = sorted(p.relative_to(tmp_path / "in_process") for p in (tmp_path / "in_process").rglob("*") if p.is_file())
    assert {p.suffix for p in files} == {
        ".html",
        ".md",
        ".png",
        ".csv",
    }  # the page, the text, the figure, section 9 as CSV
    for name in files:
        assert (tmp_path / "in_process" / name).read_bytes() == (tmp_path / "kernel" / name).read_bytes(), name
    assert in_process.markdown.read_text(encoding="utf-8").startswith("# 0440T")


def test_parameters_replace_the_defaults_and_outputs_are_the_kernels_kinds(tmp_path: Path) -> None:
    path = notebook(
        tmp_path / "n.ipynb",
        "from IPython.display import Markdown, display\ndisplay(Markdown(f'**{x}**'))",
        "print('to stdout', x)",
        "x * 2",
        "x * 3;",  # a trailing semicolon shows nothing, as in Jupyter
    )
    nb = run_notebook(path, {"x": 21})
    shown = outputs(nb)
    assert nb.cells[1].source == "# Parameters\nx = 21\n"  # papermill's injected cell, after the defaults
    assert nb.cells[1].id == "injected-parameters"  # a fixed id: the same report renders to the same bytes
    assert shown[2] == [{"output_type": "display_data", "data": {"text/markdown": "**21**", "text/plain": "<IPython.core.display.Markdown object>"}, "metadata": {}}]  # fmt: skip
    assert shown[3] == [{"output_type": "stream", "name": "stdout", "text": "to stdout 21\n"}]
    assert shown[4] == [{"output_type": "execute_result", "data": {"text/plain": "42"}, "metadata": {}, "execution_count": 5}]  # fmt: skip
    assert shown[5] == []


def test_each_notebook_starts_from_a_fresh_namespace(tmp_path: Path) -> None:
    run_notebook(notebook(tmp_path / "a.ipynb", "left_behind = 1"), {"x": 1})
    with pytest.raises(NotebookCellError, match="NameError: name 'left_behind' is not defined"):
        run_notebook(notebook(tmp_path / "b.ipynb", "left_behind"), {"x": 1})


def test_a_failing_cell_names_the_notebook_the_cell_and_the_error(tmp_path: Path) -> None:
    path = notebook(tmp_path / "broken.ipynb", "y = 1", "{}['missing']  # a bug in the report")
    with pytest.raises(NotebookCellError) as raised:
        run_notebook(path, {"x": 1})
    message = str(raised.value)
    assert message.startswith("broken.ipynb, cell 4 (")  # cells counted from 1, the injected one included
    assert "{}['missing']" in message and "KeyError: 'missing'" in message


@pytest.mark.slow
def test_a_failing_cell_in_a_kernel_is_the_same_error(tmp_path: Path) -> None:
    path = notebook(tmp_path / "broken.ipynb", "{}['missing']")
    with pytest.raises(NotebookCellError, match=r"broken.ipynb, cell 3 \(kernel python3\): KeyError: 'missing'"):
        run_notebook(path, {"x": 1}, kernel="python3")


def test_inside_ipython_the_notebook_runs_in_a_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The caller's own shell (Jupyter, the IPython terminal) is not ours to reset: a kernel runs the notebook."""
    from IPython.core.interactiveshell import InteractiveShell

    kernels: list[str] = []

    def in_kernel(path: Path, parameters: dict, kernel: str, cwd: Path | None) -> nbformat.NotebookNode:
        kernels.append(kernel)
        return nbformat.read(path, as_version=4)

    monkeypatch.setattr(execute, "_run_in_kernel", in_kernel)
    path = notebook(tmp_path / "n.ipynb", "x")
    run_notebook(path, {"x": 1})  # our own shell exists after this
    assert kernels == []
    monkeypatch.setattr(InteractiveShell, "initialized", classmethod(lambda cls: True))
    monkeypatch.setattr(InteractiveShell, "instance", classmethod(lambda cls, *a, **k: object()))
    run_notebook(path, {"x": 1})
    assert kernels == ["python3"]


def test_the_shell_keeps_no_history_and_leaves_the_notebook_file_as_it_was(tmp_path: Path) -> None:
    path = notebook(tmp_path / "n.ipynb", "1 + 1")
    before = path.read_bytes()
    assert outputs(run_notebook(path, {"x": 1}))[2][0]["data"] == {"text/plain": "2"}
    assert execute._shell().history_manager.enabled is False  # nothing written under ~/.ipython
    assert path.read_bytes() == before


def test_the_callers_interpreter_is_left_as_it_was(tmp_path: Path) -> None:
    """`__main__` (multiprocessing's spawn reads it), sys.path and the hooks are the caller's after a report."""
    import sys

    before = (sys.modules["__main__"], list(sys.path), sys.displayhook, sys.excepthook, sys.stdout)
    with pytest.raises(NotebookCellError, match="ZeroDivisionError"):
        run_notebook(notebook(tmp_path / "n.ipynb", "x = 2", "1/0"), {"x": 1})
    run_notebook(notebook(tmp_path / "m.ipynb", "x"), {"x": 1})
    assert (sys.modules["__main__"], list(sys.path), sys.displayhook, sys.excepthook, sys.stdout) == before


PARAMETER_VALUES = {
    "text": 'a "quoted"\nline, é and \\ backslash',
    "none": None,
    "yes": True,
    "count": 3,
    "ratio": 0.25,
    "nan": float("nan"),
    "inf": float("inf"),
    "minus_inf": float("-inf"),
    "groups": ["aetna", None, 2, [1.5]],
    "mapping": {"k": "v", 7: False},
    "other": Path("/x/y"),
}


@pytest.mark.parametrize("cells", ["parameters cell", "injected already", "no parameters cell"])
def test_the_injected_parameters_cell_is_papermills(cells: str, tmp_path: Path) -> None:
    """`parameterized_notebook` (no papermill import) gives what papermill's own functions give."""
    iorw = pytest.importorskip("papermill.iorw")
    from papermill.parameterize import parameterize_notebook

    path = notebook(tmp_path / "n.ipynb", "print(x)")
    if cells != "parameters cell":
        nb = nbformat.read(path, as_version=4)
        if cells == "injected already":
            nb.cells.insert(1, nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["injected-parameters"]}))
        else:
            nb.cells[0].metadata = {}
        nbformat.write(nb, path)
    ours = execute.parameterized_notebook(path, PARAMETER_VALUES)
    theirs = parameterize_notebook(
        iorw.load_notebook_node(str(path)), PARAMETER_VALUES, kernel_name="python3", language="python"
    )
    for nb in (ours, theirs):  # both give the new cell a random id
        for cell in nb.cells:
            if "injected-parameters" in cell.metadata.tags:
                cell.id = "injected-parameters"
    assert ours == theirs  # cells (the injected source included) and metadata (papermill's version, the parameters)
    assert sum("injected-parameters" in c.metadata.tags for c in ours.cells) == 1
