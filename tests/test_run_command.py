"""``python -m helpers run``: one notebook, one line on failure (issue 12, item 5); failing
cells named by what they do; fit advice that depends on what was tried (item 6); the
project folder found from notebooks/ (item 7, helpers.files)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from helpers.files import enter_project, project_path, project_root
from helpers.models import lifetimes_adapter as la
from helpers.site.run import describe_cell, run_main

ROOT = Path(__file__).resolve().parents[1]
FAILING = ROOT / "tests" / "fixtures" / "failing.ipynb"
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


# ------------------------------------------------------------- cell names


def test_failing_cell_is_named_by_its_heading_and_the_line_that_raised():
    nb = new_notebook(cells=[
        new_markdown_cell("# Title"),
        new_code_cell("x = 1", metadata={"tags": ["parameters"]}),
        new_markdown_cell("## Load the data\n\nMore words."),
        new_code_cell("from pathlib import Path\nimport os\n\nloaded = read(x)\nstudy = fit(loaded)"),
    ])
    tb = ["\x1b[0;31mDataError\x1b[0m Traceback", "Cell \x1b[0;32mIn[3], line 5\x1b[0m\n      4 loaded = read(x)\n----> 5 study = fit(loaded)"]
    where = describe_cell(nb, 3, nb.cells[3].source, tb)
    assert where == 'cell 4 of 4 under "Load the data" (`study = fit(loaded)`)'
    # no traceback: the first line that is not an import
    assert describe_cell(nb, 3, nb.cells[3].source) == 'cell 4 of 4 under "Load the data" (`loaded = read(x)`)'
    # a cell that starts with a comment is named by it
    assert describe_cell(nb, 3, "# fit the model\nimport x\nfit()") == 'cell 4 of 4 under "Load the data" (`# fit the model`)'
    assert describe_cell(nb, None, "x = 2") == "the injected parameters cell"


# ----------------------------------------------------------------- advice


@pytest.mark.parametrize("penalizer", [0.0, 0.001, 0.01, 0.1, 1.0])
def test_fit_advice_never_repeats_what_was_tried(penalizer):
    advice = la.fit_advice(penalizer, model="bgnbd")
    suggested = [float(v) for v in __import__("re").findall(r"penalizer: ([0-9.e-]+)\)", advice)]
    assert all(v > penalizer for v in suggested), advice  # only larger penalizers than the one used
    if penalizer == 0:
        assert suggested == [0.001]
    if penalizer >= la.LARGEST_USEFUL_PENALIZER:
        assert suggested == [] and "check the data" in advice
    assert "Pareto/NBD" in advice and "MBG/NBD" in advice and "BG/NBD or" not in advice.split("model (")[1]


def test_a_failed_penalised_fit_does_not_advise_the_same_penalizer(monkeypatch):
    class Boom(Exception):
        pass

    def fail(self, *a, **k):
        raise ValueError("singular")

    def unsettled(*a, **k):
        raise la.fast_models.FastFitError("did not settle")

    fitter = la.TRANSACTION_MODELS["bgnbd"]
    monkeypatch.setattr(fitter, "fit", fail)
    monkeypatch.setattr(la.fast_models, "fit_bgnbd_penalised", unsettled)  # lifetimes fits only after it
    f, r, t = np.array([1.0, 2, 0]), np.array([3.0, 5, 0]), np.array([10.0, 10, 10])
    with pytest.raises(la.ModelFitError) as caught:
        la.fit_transaction_model("bgnbd", f, r, t, penalizer=0.001)
    message = str(caught.value)
    assert "0.001" in message and "(penalizer: 0.01)" in message and "(penalizer: 0.001)" not in message


def test_bad_input_advice_does_not_offer_a_penalizer():
    with pytest.raises(la.ModelFitError) as caught:
        la.fit_transaction_model("bgnbd", np.array([1.0, np.nan]), np.array([1.0, 1]), np.array([2.0, 2]))
    assert "penalizer" not in str(caught.value)


# ----------------------------------------------------------- project folder


def test_project_root_is_found_from_notebooks(monkeypatch, tmp_path):
    monkeypatch.delenv("HELPERS_PROJECT_ROOT", raising=False)
    assert project_root(ROOT / "notebooks") == ROOT
    assert project_root(ROOT) == ROOT
    monkeypatch.chdir(ROOT / "notebooks")
    assert project_path("playbooks/segment_map.yaml") == ROOT / "playbooks" / "segment_map.yaml"
    assert project_path("/abs/x.csv") == Path("/abs/x.csv")
    assert enter_project() == ROOT and Path.cwd() == ROOT
    # a folder outside any project is its own root; the environment variable wins
    outside = tmp_path / "a" / "b"
    outside.mkdir(parents=True)
    assert project_root(outside) == outside.resolve()
    monkeypatch.setenv("HELPERS_PROJECT_ROOT", str(tmp_path))
    assert project_root(ROOT / "notebooks") == tmp_path.resolve()


# ----------------------------------------------------------- run command


def _run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "-m", "helpers", "run", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


@pytest.mark.slow
def test_run_prints_only_the_one_line_message_and_exits_non_zero(tmp_path):
    done = _run_cli([str(FAILING), "-y", "{data_path: data/tx.csv}", "-o", str(tmp_path / "out.ipynb"), "--no-progress"],
                    cwd=tmp_path)
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    line = lines[0]
    assert line.startswith("error: ") and "failing.ipynb" in line
    assert 'cell 4 of 5 under "Loading the data."' in line
    assert "raise DataError(" in line and "from helpers.errors import" not in line  # what it does, not its import
    assert "data/tx.csv: column 'order_date': dates cannot be read" in line
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert (tmp_path / "out.ipynb").exists()


@pytest.mark.slow
def test_run_writes_the_executed_copy_and_a_page(tmp_path):
    nb = new_notebook(cells=[new_code_cell("n = 1", metadata={"tags": ["parameters"]}), new_code_cell("print(n * 2)")],
                      metadata={"kernelspec": KERNELSPEC})
    nbformat.write(nb, tmp_path / "ok.ipynb")
    done = _run_cli(["ok.ipynb", "-y", "{n: 21}", "-o", "out/ok.ipynb", "--html", "out/ok.html", "--no-progress"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    executed = nbformat.read(tmp_path / "out" / "ok.ipynb", as_version=4)
    assert executed.cells[-1].outputs[0]["text"].strip() == "42"  # the YAML value kept its type
    assert "42" in (tmp_path / "out" / "ok.html").read_text(encoding="utf-8")


def test_run_rejects_bad_parameters_in_one_line(tmp_path):
    err = io.StringIO()
    assert run_main([str(FAILING), "-y", "{data_path: [unclosed"], out=io.StringIO(), err=err) == 2
    assert err.getvalue().count("\n") == 1 and "not valid YAML" in err.getvalue()
    err = io.StringIO()
    assert run_main([str(FAILING), "-y", "{no_such: 1}", "-o", str(tmp_path / "x.ipynb")], out=io.StringIO(), err=err) == 2
    assert "has no parameter 'no_such'" in err.getvalue() and err.getvalue().count("\n") == 1


@pytest.mark.slow
def test_run_reads_a_decimal_comma_export_with_the_notebook_parameter(tmp_path):
    """The new-retail transactions as a European-style export (';' between columns, decimal
    commas): refused with a message naming decimal=',' and read with it."""
    frame = pd.read_csv(ROOT / "data" / "newretail" / "transactions.csv", dtype=str)
    for column in ("amount", "discount"):  # every decimal number of the export
        frame[column] = frame[column].str.replace(".", ",", regex=False)
    frame.to_csv(tmp_path / "orders.csv", sep=";", index=False)
    params = f"{{data_path: '{tmp_path / 'orders.csv'}', include_clv: false, output_dir: '{tmp_path / 'out'}'}}"
    refused = _run_cli([str(ROOT / "notebooks" / "omnichannel.ipynb"), "-y", params, "-o", str(tmp_path / "a.ipynb"),
                        "--no-progress"], cwd=ROOT)
    assert refused.returncode == 1 and "decimal=','" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    accepted = _run_cli([str(ROOT / "notebooks" / "omnichannel.ipynb"), "-y", params, "-y", "{decimal: ','}",
                         "-o", str(tmp_path / "b.ipynb"), "--no-progress"], cwd=ROOT)
    assert accepted.returncode == 0, accepted.stderr
    metrics = next((tmp_path / "out").glob("*.json")).read_text(encoding="utf-8")
    assert "orders" in metrics or "customers" in metrics


# ------------------------------------------------------- kernel folder


def test_kernels_start_in_their_folder_without_moving_the_build_process(tmp_path, monkeypatch):
    """The build runs pages in threads of one process: each kernel must start in its own
    folder without os.chdir, which is process-wide (a page's chdir-back started another
    page's kernel in the wrong project, and its data file was "not found")."""
    from concurrent.futures import ThreadPoolExecutor

    from helpers.site.run import execute_notebook

    nb = new_notebook(cells=[new_code_cell("import os\nopen('where.txt', 'w').write(os.getcwd())")],
                      metadata={"kernelspec": KERNELSPEC})
    notebook = tmp_path / "where.ipynb"
    nbformat.write(nb, notebook)
    folders = [tmp_path / "a", tmp_path / "b"]
    for folder in folders:
        folder.mkdir()

    here = Path.cwd().resolve()
    real_chdir = os.chdir

    def no_move(path):
        # papermill's file handler re-enters the current folder around each read: harmless
        if Path(path).resolve() != here:
            raise AssertionError(f"the build process changed its working folder to {path}")
        real_chdir(path)

    monkeypatch.setattr(os, "chdir", no_move)
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda f: execute_notebook(notebook, {}, f / "executed.ipynb", cwd=f, progress=False), folders))
    for folder in folders:
        assert Path((folder / "where.txt").read_text()).resolve() == folder.resolve()


@pytest.mark.parametrize("source, noise", [
    ("get_ipython().kernel.log.error('kernel log noise')", "kernel log noise"),
    ("import atexit, os\natexit.register(lambda: os.write(2, b'Assertion failed: kernel noise on the way out\\n'))",
     "kernel noise on the way out"),
], ids=["the kernel's log", "its stderr on the way out"])
def test_what_the_kernel_itself_prints_stays_out_of_the_terminal(tmp_path, capfd, source, noise):
    """The kernel's own log and stderr are not the notebook's output. jupyter_client interrupts
    every kernel it shuts down, and ipykernel may log that as "ERROR | KeyboardInterrupt caught
    in kernel" in a clean build (only critical lines of its log are kept); libzmq sometimes
    aborts a kernel that is shutting down with "Assertion failed: pfd.revents & POLLIN
    (src/signaler.cpp:238)" on its stderr, which CI caught as a second line under `helpers
    run`'s one-line message (its stderr goes to a file)."""
    from helpers.site.run import execute_notebook

    nb = new_notebook(cells=[new_code_cell(source)], metadata={"kernelspec": KERNELSPEC})
    notebook = tmp_path / "noise.ipynb"
    nbformat.write(nb, notebook)
    execute_notebook(notebook, {}, tmp_path / "executed.ipynb", cwd=tmp_path, progress=False)
    captured = capfd.readouterr()
    assert noise not in captured.err + captured.out


@pytest.mark.parametrize("in_a_session", [False, True])
def test_a_missing_kernel_is_one_message_naming_the_notebook(tmp_path, monkeypatch, in_a_session):
    """``helpers run`` and the build's kept kernels start theirs the same way; either way a missing
    kernel is a ConfigError that names the notebook and says how to install the kernel."""
    from helpers.errors import ConfigError
    from helpers.site import run
    from helpers.site.run import KernelSession, execute_notebook

    monkeypatch.setattr(run, "KERNEL_NAME", "no-such-kernel-here")
    nb = new_notebook(cells=[new_code_cell("x = 1")], metadata={"kernelspec": KERNELSPEC})
    notebook = tmp_path / "plain.ipynb"
    nbformat.write(nb, notebook)
    with KernelSession(tmp_path) as session, pytest.raises(ConfigError) as failed:
        execute_notebook(notebook, {}, tmp_path / "executed.ipynb", progress=False,
                         session=session if in_a_session else None)
    message = str(failed.value)
    assert "no Jupyter kernel named 'no-such-kernel-here' to run" in message and "plain.ipynb" in message
    assert "ipykernel install --sys-prefix" in message and "\n" not in message


def test_a_dead_kernel_is_reported_in_one_message_with_its_signal_and_last_stderr_line(tmp_path, capfd):
    from helpers.site.run import NotebookFailed, execute_notebook

    nb = new_notebook(cells=[
        new_code_cell("x = 1"),
        new_code_cell("import os, signal\nos.write(2, b'native library: out of widgets\\n')\n"
                      "os.kill(os.getpid(), signal.SIGKILL)"),
    ], metadata={"kernelspec": KERNELSPEC})
    notebook = tmp_path / "dies.ipynb"
    nbformat.write(nb, notebook)
    with pytest.raises(NotebookFailed) as failed:
        execute_notebook(notebook, {}, tmp_path / "executed.ipynb", cwd=tmp_path, progress=False)
    message = str(failed.value)
    assert "the kernel died while running cell 2 of 2" in message
    assert "SIGKILL, usually the system running out of memory" in message
    assert message.endswith("its last stderr line: native library: out of widgets)")
    captured = capfd.readouterr()
    assert "Kernel died" not in captured.err + captured.out and "out of widgets" not in captured.err


def test_a_kernel_session_runs_each_notebook_as_a_fresh_kernel_would(tmp_path):
    """The build runs a page's language versions one after another in one kernel: the
    second notebook sees none of the first one's variables, counts its cells from 1 and
    numbers its tables as a new kernel does; what was imported stays imported."""
    from helpers.site.run import KernelSession, execute_notebook

    cells = [
        new_code_cell("import sys\nfrom helpers.report.tables import styled\nimport pandas as pd"),
        new_code_cell("print('leftover' in dir(), 'helpers.report.tables' in sys.modules)"),
        new_code_cell("leftover = 1\nstyled(pd.DataFrame({'a': [1]}))"),
    ]
    nb = new_notebook(cells=cells, metadata={"kernelspec": KERNELSPEC})
    notebook = tmp_path / "twice.ipynb"
    nbformat.write(nb, notebook)
    fresh = execute_notebook(notebook, {}, tmp_path / "fresh.ipynb", cwd=tmp_path, progress=False)
    with KernelSession(tmp_path) as session:
        runs = [execute_notebook(notebook, {}, tmp_path / f"{i}.ipynb", progress=False, session=session) for i in (1, 2)]
        pid = session.km.provisioner.pid if session.km.provisioner else None
    assert pid is not None
    for run in runs:
        assert [c.execution_count for c in run.cells] == [c.execution_count for c in fresh.cells] == [1, 2, 3]
        assert run.cells[1].outputs[0]["text"] == "False True\n"
        assert run.cells[2].outputs[0]["data"]["text/html"] == fresh.cells[2].outputs[0]["data"]["text/html"]


def test_a_kept_kernel_shares_results_only_within_a_group(tmp_path):
    """The site build keeps one kernel per worker for pages of many studies: results kept
    by helpers.memo serve the later notebooks of the same group (a page's languages)
    only; a new group starts with none kept and sharing switched as the group asks."""
    from helpers.site.run import KernelSession, execute_notebook

    cells = [
        new_code_cell("import os\nfrom helpers import memo\nprint(os.environ.get('HELPERS_MEMO'), len(memo._store))"),
        new_code_cell("@memo.shared\ndef plus_one(x):\n    return x + 1\nplus_one(1)\nprint(len(memo._store))"),
    ]
    notebook = tmp_path / "memo.ipynb"
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": KERNELSPEC}), notebook)

    def printed(run) -> list[str]:
        return [run.cells[i].outputs[0]["text"].strip() for i in (0, 1)]

    seen = []
    with KernelSession(tmp_path, shared=True) as session:
        for shared in (True, True, None, False, True):
            if shared is not None:
                session.new_group(shared=shared)
            run = execute_notebook(notebook, {}, tmp_path / "executed.ipynb", progress=False, session=session)
            seen.append(printed(run))
    assert seen == [
        ["1 0", "1"],  # a new kernel, sharing on: the result is kept
        ["1 0", "1"],  # a new group in the same kernel: nothing kept from the first
        ["1 1", "1"],  # the same group: the first notebook's result is still there
        ["None 0", "0"],  # a group without sharing: nothing kept, nothing stored
        ["1 0", "1"],
    ]
