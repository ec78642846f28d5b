"""Execute the report notebook headless: in this process's IPython shell (default) or in a Jupyter kernel.

Both executors take the same notebook, inject the same parameters cell (papermill's
`parameterize_notebook`, the cell `papermill.execute_notebook` would inject) and return the executed
notebook, whose outputs `render.py` exports with nbconvert. They differ only in where the cells run:

- **in process** (default): the cells run, one after the other, in an IPython `InteractiveShell` of the
  calling process, with a fresh namespace per notebook; each cell's displays, printed text and final
  value become its outputs, as a kernel's would (the Markdown, HTML and figures are byte-identical:
  tests/report/test_execute.py renders both ways and compares). No kernel process starts, and the
  libraries the notebook imports (pandas, duckdb, matplotlib) are already loaded in a pipeline run:
  a report renders in about a second instead of five.
- **kernel** (`PAYERBENCH_REPORT_KERNEL=python3`, or any installed kernel name): papermill runs the
  notebook in a separate Jupyter kernel process; a cell that crashes the interpreter cannot take the
  calling process with it. Called from inside IPython or Jupyter (a notebook that renders reports),
  the in-process executor is not available (that shell is the caller's) and the kernel is used.

A failing cell raises `NotebookCellError` naming the notebook, the cell and the error, whichever ran it.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import nbformat

_SHELL_LOCK = threading.Lock()  # one IPython shell per process: one notebook at a time


class NotebookCellError(RuntimeError):
    """A cell of the report notebook raised: the message names the notebook, the cell and the error."""


def run_notebook(
    notebook: Path, parameters: dict[str, Any], *, kernel: str | None = None, cwd: Path | None = None
) -> nbformat.NotebookNode:
    """The notebook, executed with `parameters`: in a Jupyter kernel named `kernel`, else in this process."""
    if kernel or _caller_is_ipython():
        nb = _run_in_kernel(notebook, parameters, kernel or "python3", cwd)
    else:
        nb = _run_in_process(notebook, parameters)
    for cell in nb.cells:  # papermill gives the injected cell a random id: the same report renders to the same bytes
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            cell["id"] = "injected-parameters"
    return nb


def _caller_is_ipython() -> bool:
    """True when this process already has an IPython shell that is not ours (Jupyter, the IPython terminal)."""
    import sys

    if "IPython" not in sys.modules:
        return False
    from IPython.core.interactiveshell import InteractiveShell

    return InteractiveShell.initialized() and not isinstance(InteractiveShell.instance(), _ReportShell)


def _run_in_kernel(notebook: Path, parameters: dict[str, Any], kernel: str, cwd: Path | None) -> nbformat.NotebookNode:
    import tempfile

    import nbformat
    import papermill

    with tempfile.TemporaryDirectory() as tmp:
        executed = Path(tmp) / notebook.name
        try:
            papermill.execute_notebook(
                str(notebook),
                str(executed),
                kernel_name=kernel,
                progress_bar=False,
                log_output=False,
                cwd=str(cwd) if cwd else None,
                # the local kernel's own log ("running over TCP without encryption", "KeyboardInterrupt caught" at
                # shut-down) is not the user's concern; errors in the notebook's cells still fail the render
                extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
                parameters=parameters,
            )
        except papermill.PapermillExecutionError as exc:
            raise NotebookCellError(
                f"{notebook.name}, cell {exc.exec_count} (kernel {kernel}): {exc.ename}: {exc.evalue}"
            ) from exc
        return nbformat.read(executed, as_version=4)


# --- in process ---------------------------------------------------------------------------------------------
def parameterized_notebook(notebook: Path, parameters: dict[str, Any]) -> nbformat.NotebookNode:
    """The notebook with papermill's parameters cell injected: what papermill's `load_notebook_node` and
    `parameterize_notebook(nb, parameters, kernel_name="python3", language="python")` give (its metadata and the
    cell's source alike; tests/report/test_execute.py compares), made without importing papermill (0.2 s: it
    imports its cloud storage clients)."""
    import nbformat

    nb = nbformat.reads(notebook.read_text(encoding="utf-8"), as_version=4)
    nb = nbformat.v4.upgrade(nb) or nb
    if not hasattr(nb.metadata, "papermill"):
        nb.metadata["papermill"] = {
            "default_parameters": {},
            "parameters": {},
            "environment_variables": {},
            "version": _papermill_version(),
        }
    for cell in nb.cells:
        if not hasattr(cell.metadata, "tags"):
            cell.metadata["tags"] = []
        if not hasattr(cell.metadata, "papermill"):
            cell.metadata["papermill"] = {}
    nb = nbformat.v4.upgrade(nb)
    injected = nbformat.v4.new_code_cell(source=_python_parameters(parameters))
    injected.metadata["tags"] = ["injected-parameters"]
    tagged = {
        tag: [i for i, cell in enumerate(nb.cells) if tag in cell.metadata.tags]
        for tag in ("parameters", "injected-parameters")
    }
    if tagged["injected-parameters"]:  # replaced
        at = tagged["injected-parameters"][0]
        before, after = nb.cells[:at], nb.cells[at + 1 :]
    elif tagged["parameters"]:  # after the parameters cell
        at = tagged["parameters"][0]
        before, after = nb.cells[: at + 1], nb.cells[at + 1 :]
    else:  # first
        before, after = [], nb.cells
    nb.cells = before + [injected] + after
    nb.metadata.papermill["parameters"] = parameters
    return nb


def _papermill_version() -> str | None:
    """papermill's version, as its metadata records it (read from the installed package's metadata)."""
    from importlib import metadata

    try:
        return metadata.version("papermill")
    except metadata.PackageNotFoundError:
        return None


def _python_parameters(parameters: dict[str, Any]) -> str:
    """The injected cell's source, as papermill's PythonTranslator writes it (Black not installed: unformatted)."""
    return "# Parameters\n" + "".join(f"{name} = {_python_value(value)}\n" for name, value in parameters.items())


def _python_value(value: Any) -> str:
    """A value as papermill's PythonTranslator writes it."""
    if value is None or isinstance(value, bool | int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value):
            return str(value)
        return "float('nan')" if math.isnan(value) else "float('-inf')" if value < 0 else "float('inf')"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_quoted(k)}: {_python_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_python_value(v) for v in value) + "]"
    return _quoted(value)  # a string, or anything else papermill writes as its quoted text


def _quoted(value: Any) -> str:
    if isinstance(value, str):
        value = value.encode("unicode_escape").decode("utf-8").replace('"', r"\"")
    return f'"{value}"'


class _ReportShell:  # replaced by the IPython subclass on first use (IPython is imported only then)
    pass


def _shell() -> Any:
    """This process's report shell: IPython's InteractiveShell, with no history file and no GUI event loop
    (`%matplotlib inline` needs none: figures are display outputs, as in a kernel)."""
    global _ReportShell
    from IPython.core.displayhook import DisplayHook
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets import Type
    from traitlets.config import Config

    if not issubclass(_ReportShell, InteractiveShell):

        class RecordingHook(DisplayHook):
            """A cell's final value kept as data (a kernel's execute_result), not printed as `Out[n]:`."""

            shown: tuple[dict[str, Any], dict[str, Any]] | None = None

            def write_output_prompt(self) -> None:
                return None

            def write_format_data(self, format_dict: dict[str, Any], md_dict: dict[str, Any] | None = None) -> None:
                self.shown = (format_dict, md_dict or {})

            def flush(self) -> None:
                """What `reset` asks of IPython's hook, but for the full garbage collection IPython's ends with
                (0.05-0.1 s, twice a notebook): `reset` clears the namespaces next, and the notebook's cycles go
                at the collector's next pass."""
                self._, self.__, self.___ = "", "", ""  # type: ignore[assignment]
                output_history = self.shell.user_ns.get("_oh")
                if output_history is not None:
                    output_history.clear()

        class ReportShell(InteractiveShell):
            displayhook_class = Type(RecordingHook)

            def enable_gui(self, gui: str | None = None) -> None:  # inline figures: no event loop to start
                return None

            # A guest in the caller's interpreter, as IPython's embedded shell is: `sys.modules["__main__"]` stays the
            # caller's (multiprocessing's spawn start method reads it) and sys.path is left as it is.
            def init_sys_modules(self) -> None:
                return None

            def init_virtualenv(self) -> None:
                return None

        _ReportShell = ReportShell
    config = Config()
    config.HistoryManager.enabled = False  # nothing written to ~/.ipython
    return _ReportShell.instance(config=config)


def _run_in_process(notebook: Path, parameters: dict[str, Any]) -> nbformat.NotebookNode:
    import nbformat
    from IPython.utils.capture import capture_output

    nb = parameterized_notebook(notebook, parameters)
    with _SHELL_LOCK:
        shell = _shell()
        shell.reset(new_session=False)  # a fresh namespace: nothing left from the previous notebook
        count = 0
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            count += 1
            shell.displayhook.shown = None
            with capture_output(display=True) as captured:
                result = shell.run_cell(cell.source, store_history=True)  # as a kernel runs it: `x;` shows nothing
            error = result.error_before_exec or result.error_in_exec
            if error is not None:
                first_line = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
                raise NotebookCellError(
                    f"{notebook.name}, cell {index + 1} ({first_line!r}): {type(error).__name__}: {error}"
                ) from error
            outputs = []
            if captured.stdout:
                outputs.append(nbformat.v4.new_output("stream", name="stdout", text=captured.stdout))
            if captured.stderr:
                outputs.append(nbformat.v4.new_output("stream", name="stderr", text=captured.stderr))
            for shown in captured.outputs:
                outputs.append(nbformat.v4.new_output("display_data", data=shown.data, metadata=shown.metadata or {}))
            if shell.displayhook.shown is not None:  # the cell's last expression, as a kernel shows it (Out[n])
                data, metadata = shell.displayhook.shown
                outputs.append(
                    nbformat.v4.new_output("execute_result", data=data, metadata=metadata, execution_count=count)
                )
            cell.outputs = outputs
            cell.execution_count = count
        shell.reset(new_session=False)  # the notebook's frames and figures are not kept alive after it
    return nb
