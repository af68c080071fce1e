"""Throw-away playbook repos for build, cache, site and browser tests.

``demo_notebook`` is a small generated notebook with the conventions of a real one:
a typed ``parameters`` cell (with ``language``), headline numbers, exports in
``output_dir``, optional extra HTML pages, a run log (to count runs) and optional
failure or delay.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

FIXTURES = Path(__file__).parent / "fixtures"
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}

DEMO_PARAMETERS = '''\
# Parameters
data_path: str = ""  # CSV with an amount column; empty for three made-up rows
region: str = "all"  # region label shown on the page
language: str = "en"  # page language, en or zh-CN
output_dir: str = "build/outputs/demo"  # exports, run log and extra pages
extra_pages: int = 0  # how many extra HTML pages to write into output_dir/pages
sleep_s: float = 0.0  # seconds to wait (parallelism tests)
fail: bool = False  # raise a DataError in the third cell
'''

DEMO_SETUP = '''\
import json, time
from pathlib import Path

import pandas as pd
from IPython.display import Markdown, display

from helpers.errors import DataError
from helpers.report.page import publish_headline

started = time.time()
out = Path(output_dir)
out.mkdir(parents=True, exist_ok=True)
with open(out / "runs.log", "a", encoding="utf-8") as fh:
    fh.write(f"{region} {started}\\n")
'''

DEMO_LOAD = '''\
if fail:
    raise DataError("planted failure", file=data_path or "made-up rows", column="amount")
frame = pd.read_csv(data_path) if data_path else pd.DataFrame({"amount": [1.0, 2.0, 3.0]})
time.sleep(sleep_s)
'''

DEMO_SHOW = '''\
total = float(frame["amount"].sum())
word = "合计" if language == "zh-CN" else "Total"
display(Markdown(f"**{word} ({region})**: {total:.2f}"))
publish_headline({word: total, "Rows": len(frame)})
'''

DEMO_FIGURE = '''\
import matplotlib.pyplot as plt
from helpers.report import figures as plotting
fig, ax = plt.subplots(figsize=(4, 2.5))
ax.bar(range(len(frame)), frame["amount"])
ax.set_title("金额" if language == "zh-CN" else "Amount")
plotting.show(fig, "amount", out / "figures")
'''

DEMO_EXTRA = '''\
pages = out / "pages"
pages.mkdir(exist_ok=True)
for i in range(extra_pages):
    (pages / f"segment-{i}.html").write_text(
        f"<!DOCTYPE html><html lang='{language}'><head><meta charset='utf-8'>"
        f"<title>Segment {i} ({region})</title>"
        "<script src='https://cdn.example.com/tracker.js'></script></head>"
        f"<body><h1>Segment {i}</h1><p><a href='../index.html'>index</a></p></body></html>",
        encoding="utf-8",
    )
(out / "timing.json").write_text(json.dumps({"start": started, "end": time.time()}), encoding="utf-8")
'''


def demo_notebook(path: Path, *, figure: bool = False) -> Path:
    params = new_code_cell(DEMO_PARAMETERS)
    params.metadata["tags"] = ["parameters"]
    cells = [
        new_markdown_cell("# Demo study\n\nA generated notebook for the build tests."),
        params,
        new_code_cell(DEMO_SETUP),
        new_code_cell(DEMO_LOAD),
        new_code_cell(DEMO_SHOW),
    ]
    if figure:
        cells.append(new_code_cell(DEMO_FIGURE))
    cells.append(new_code_cell(DEMO_EXTRA))
    nb = new_notebook(cells=cells, metadata={"kernelspec": KERNELSPEC})
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def site_config(*studies: dict, **top) -> dict:
    """A config building ``site`` from ``build`` with ``studies`` (and other top-level keys)."""
    return {"output": "site", "build": "build", **top, "studies": list(studies)}


def demo_study(name: str = "demo", **keys) -> dict:
    """A study of the demo notebook (title: the name, capitalised)."""
    return {"name": name, "title": name.capitalize(), "notebook": "notebooks/demo.ipynb", **keys}


def write_config(root: Path, config) -> Path:
    path = root / "playbooks" / "playbooks.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = config if isinstance(config, str) else yaml.safe_dump(config, allow_unicode=True, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def make_repo(root: Path, config: dict | str, *, figure: bool = False) -> Path:
    """``root`` with notebooks/{report,failing,demo}.ipynb and the config; returns
    the config path."""
    (root / "notebooks").mkdir(parents=True, exist_ok=True)
    for nb in ("report.ipynb", "failing.ipynb"):
        shutil.copy(FIXTURES / nb, root / "notebooks" / nb)
    demo_notebook(root / "notebooks" / "demo.ipynb", figure=figure)
    return write_config(root, config)


def site_files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by relative path, with its bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(Path(folder).rglob("*")) if p.is_file()}


def only_our_table_script(html: str) -> bool:
    """True when the page's only script is the table script, inlined verbatim."""
    import re

    from helpers.report.page import tables_script

    scripts = re.findall(r"<script[^>]*>(.*?)</script>", html, flags=re.IGNORECASE | re.DOTALL)
    return scripts == [tables_script()] and "<script src" not in html.lower()
