"""Every notebook runs where strategists open it (issue 12, item 7): JupyterLab starts the
kernel in ``notebooks/``; the build and ``python -m helpers run`` start it in the project
folder. Either way project files (``playbooks/segment_map.yaml``, ``playbooks/designs/*.yaml``,
``data/...``) are found and outputs land in ``build/outputs/<page>/`` of the project, as the
README says. Small data: seconds per notebook."""

from __future__ import annotations

import multiprocessing
import shutil
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from helpers.site.run import execute_notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
#: The smallest parameters that still run every cell; output_dir stays the notebook default.
SMALL = {
    "clv": {"sample_customers": 300},
    "segments": {"sample_customers": 400},
    "loyalty_lab": {"customers": 400, "runs": 4, "analysis_runs": 2},
    "customer_base": {},
    "omnichannel": {"include_clv": False},
    "service": {},
    "pilot_readout": {"sim_customers": 1500, "bootstrap_samples": 100},
}
#: Where each notebook's outputs go by default (README: build/outputs/<page>/).
OUTPUTS = {name: f"build/outputs/{name}" for name in NOTEBOOKS}
#: Run from notebooks/ (where JupyterLab starts kernels); the build's smoke tests run every
#: notebook from the project folder. The studies added later (tags, triggers, campaigns,
#: monitoring, kpi, community, model_check) are checked statically below to keep CI short.
RUN = sorted(SMALL)

pytestmark = pytest.mark.slow


def _project_copy(root: Path) -> Path:
    """A copy of the project as a strategist has it: notebooks, playbooks, data (linked)."""
    shutil.copytree(ROOT / "notebooks", root / "notebooks")
    shutil.copytree(ROOT / "playbooks", root / "playbooks", ignore=shutil.ignore_patterns("site", "site.*"))
    (root / "data").mkdir()
    (root / "data" / "newretail").symlink_to(ROOT / "data" / "newretail", target_is_directory=True)
    return root


def _run(job: tuple[str, str, str]) -> tuple[tuple[str, str], str | None]:
    """Run one notebook in a worker process (the runs are independent, and processes
    keep the two starting folders apart beyond doubt)."""
    name, where, project_text = job
    project = Path(project_text)
    cwd = project / "notebooks" if where == "notebooks" else project
    try:
        execute_notebook(project / "notebooks" / f"{name}.ipynb", SMALL[name],
                         project / "executed" / where / f"{name}.ipynb", cwd=cwd, progress=False)
        return (name, where), None
    except Exception as err:  # noqa: BLE001 - reported per notebook by the test
        return (name, where), f"{type(err).__name__}: {err}"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Each notebook of :data:`RUN` run with its kernel in notebooks/, as JupyterLab does."""
    projects = {where: _project_copy(tmp_path_factory.mktemp(f"project_{where}")) for where in ("notebooks",)}
    jobs = [(name, where, str(projects[where])) for name in RUN for where in projects]
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = dict(pool.map(_run, jobs))
    return projects, results


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_notebook_enters_the_project_folder_first(name):
    """The first code cell after the parameters calls enter_project(), before anything reads a file."""
    import nbformat

    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    at = next(i for i, c in enumerate(code) if "parameters" in c.metadata.get("tags", []))
    first = code[at + 1].source
    lines = [line for line in first.splitlines() if line.strip() and not line.startswith("#")]
    assert lines[:2] == ["from helpers.files import enter_project", lines[1]] and lines[1].startswith("enter_project()")


@pytest.mark.parametrize("where", ["notebooks"])
@pytest.mark.parametrize("name", RUN)
def test_notebook_runs_and_writes_its_outputs_in_the_project(runs, name, where):
    projects, results = runs
    assert results[(name, where)] is None, results[(name, where)]
    project = projects[where]
    outputs = project / OUTPUTS[name]
    assert outputs.is_dir() and any(outputs.iterdir()), f"no outputs in {outputs}"
    assert not (project / "notebooks" / "build").exists()  # nothing written next to the notebooks
