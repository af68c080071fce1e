"""Project hygiene: one environment, clean notebooks, the documented entry points."""

import json
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _name(spec: str) -> str:
    return re.split(r"[<>=!~ \[]", spec, maxsplit=1)[0].lower().replace("_", "-")


def _pyproject_specs() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = project["dependencies"] + project["optional-dependencies"]["dev"]
    return {_name(s): s.replace(" ", "") for s in specs}


def test_environment_yml_matches_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    pip_specs = [s.split("#")[0].strip() for s in pip if not s.startswith("-e")]
    specs = {_name(s): s.replace(" ", "") for s in conda + pip_specs if _name(s) not in ("python", "pip")}
    assert specs == _pyproject_specs()
    assert "-e .[dev]" in pip


def test_notebooks_exist_and_are_committed_clean():
    assert NOTEBOOKS, "no notebooks found"
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text())
        assert nb["metadata"]["kernelspec"]["name"] == "python3", path.name
        assert "papermill" not in nb["metadata"], path.name
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, path.name
            assert "papermill" not in cell.get("metadata", {}), path.name


def test_each_notebook_has_one_tagged_parameters_cell_with_typed_comments():
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text())
        tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, path.name
        lines = [l for l in "".join(tagged[0]["source"]).splitlines() if l and not l.startswith("#")]
        for line in lines:
            assert re.match(r"^\w+: \w+ = .+  # .+", line), f"{path.name}: untyped or uncommented: {line}"


def test_readme_commands_are_the_ones_ci_runs():
    readme = (ROOT / "README.md").read_text()
    assert "make playbooks" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_papermill_sees_every_parameter():
    import papermill

    for path in NOTEBOOKS:
        nb = json.loads(path.read_text())
        cell = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
        names = {l.split(":")[0] for l in "".join(cell["source"]).splitlines() if l and not l.startswith("#")}
        inferred = papermill.inspect_notebook(str(path))
        assert set(inferred) == names, path.name
        assert all(p["help"] for p in inferred.values()), path.name


def test_no_merge_conflict_markers_are_left_in_the_repository():
    import subprocess

    root = Path(__file__).resolve().parents[1]
    files = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True).stdout.split()
    markers = ("<<<<<<< ", ">>>>>>> ")
    found = []
    for name in files:
        path = root / name
        if path.suffix not in {".py", ".md", ".yaml", ".yml", ".ipynb", ".j2", ".css", ".js", ".toml", ".txt", ""}:
            continue
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (UnicodeDecodeError, OSError):
            continue
        found += [f"{name}:{i + 1}" for i, line in enumerate(lines) if line.startswith(markers)]
    assert not found, found
