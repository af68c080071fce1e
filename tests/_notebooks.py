"""Running the real notebooks in tests: execute with papermill, render the page, and the
build's "bad file keeps the old page" check. Shared by every notebook test module."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers.report.page import RunInfo, render_page
from helpers.site.run import NotebookFailed, execute_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


@dataclass(frozen=True)
class PageRun:
    """One executed notebook and its rendered page."""

    out: Path  #: the folder the run used
    nb: Any  #: the executed notebook
    page: Path  #: the rendered HTML page
    html: str  #: its text


def execute(notebook: Path, params: dict, out: Path) -> Any:
    """Run ``notebook`` with ``params`` from the repository root; the executed copy goes to ``out``."""
    return execute_notebook(notebook, params, out / "executed.ipynb", cwd=ROOT, progress=False)


def run_page(notebook: Path, params: dict, out: Path, *, title: str, lang: str = "en", page: str | None = None,
             data_source: str = "test") -> PageRun:
    """Run ``notebook`` and render its page ``out/<page>.html`` (default: the notebook's name)
    as the build does."""
    nb = execute(notebook, params, out)
    path = render_page(nb, out / f"{page or notebook.stem}.html", title=title, lang=lang,
                       run_info=RunInfo.from_notebook(nb, data_source=data_source, parameters=params))
    return PageRun(out, nb, path, path.read_text(encoding="utf-8"))


def failure(notebook: Path, params: dict, out: Path) -> NotebookFailed:
    """The error of a run that must fail; its message never shows a traceback."""
    with pytest.raises(NotebookFailed) as err:
        execute(notebook, params, out)
    assert "Traceback" not in str(err.value)
    return err.value


def build_keeps_the_old_page(tmp_path: Path, notebook: Path, parameters: dict) -> str:
    """Build a one-page site whose notebook fails on a bad input: the build exits 1 with a
    message and no traceback, and the previous page stays. Returns what the build printed."""
    name = notebook.stem
    site = tmp_path / "site"
    site.mkdir()
    (site / f"{name}.html").write_text("previous good page", encoding="utf-8")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / notebook.name).write_bytes(notebook.read_bytes())
    config = tmp_path / "playbooks" / "playbooks.yaml"
    config.parent.mkdir()
    page = {"name": name, "title": name, "notebook": f"notebooks/{notebook.name}",
            "parameters": {**parameters, "output_dir": str(tmp_path / "out")}}
    config.write_text(yaml.safe_dump({"output": str(site), "build": str(tmp_path / "build"), "pages": [page]}),
                      encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "helpers", "build", "--config", str(config)],
                          capture_output=True, text=True, cwd=tmp_path, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output, output
    assert (site / f"{name}.html").read_text(encoding="utf-8") == "previous good page"
    return output
