"""Issue 11, defect 8: every page and index card says what data it ran on and flags
simulated or generated data (a simulated pilot is never labelled as CDNOW)."""

from types import SimpleNamespace

import pytest
from bs4 import BeautifulSoup
from nbformat.v4 import new_code_cell, new_notebook, new_output

from helpers.errors import ConfigError
from helpers.report import page as page_mod
from helpers.site import build as build_mod
from helpers.site.config import EMBEDDED_DATA_SOURCE
from helpers.site.index import write_index
from helpers.studies.pilot import narrative as pilot_narrative


def notebook_with(bundle):
    cell = new_code_cell("publish_data_source(...)")
    cell.outputs = [new_output("display_data", data={page_mod.DATA_SOURCE_MIME: bundle, "text/plain": "x"})]
    return new_notebook(cells=[cell])


def test_published_data_source_is_collected_and_kept_off_the_page_body():
    nb = notebook_with({"label": "Simulated pilot", "kind": "simulated"})
    assert page_mod.collect_data_source(nb) == {"label": "Simulated pilot", "kind": "simulated"}
    assert page_mod._clean_output(nb.cells[0].outputs[0]) is None
    assert page_mod.collect_data_source(new_notebook(cells=[new_code_cell("1")])) is None
    assert page_mod.data_source_text({"label": "Simulated pilot", "kind": "simulated"}) == \
        "Simulated pilot (simulated data)"
    assert page_mod.data_source_text({"label": "x.csv", "kind": "real"}) == "x.csv"
    assert "模拟数据" in page_mod.data_source_text({"label": "模拟试点", "kind": "simulated"}, "zh-CN")
    with pytest.raises(ConfigError):
        page_mod.publish_data_source("pilot", kind="synthetic")


def test_page_data_source_prefers_the_notebook_then_flags_generated_files(tmp_path):
    config = SimpleNamespace(root=tmp_path)
    labels = page_mod.chrome_labels("en")

    def job(**params):
        return SimpleNamespace(not_passed={"data_path": ""}, arguments=params)

    published = {"label": "Simulated pilot", "kind": "simulated"}
    assert build_mod.page_data_source(config, job(), published, labels) == published
    embedded = build_mod.page_data_source(config, job(), None, labels)
    assert embedded == {"label": labels["embedded_data_source"], "kind": "real"}
    assert EMBEDDED_DATA_SOURCE.startswith("CDNOW")
    (tmp_path / "gen").mkdir()
    (tmp_path / "gen" / "transactions.csv").write_text("a\n")
    (tmp_path / "gen" / "truth.json").write_text("{}")
    (tmp_path / "mine.csv").write_text("a\n")
    assert build_mod.page_data_source(config, job(data_path="gen/transactions.csv"), None, labels) == {
        "label": "gen/transactions.csv", "kind": "generated"}
    assert build_mod.page_data_source(config, job(data_path="mine.csv"), None, labels)["kind"] == "real"


def test_simulated_pilot_is_labelled_as_simulated_not_as_a_file():
    label, kind = pilot_narrative.data_label("", True, {"kind": "simulated", "true_effect": 8.0}, "en")
    assert kind == "simulated" and "Simulated pilot" in label and "CDNOW" not in label
    assert pilot_narrative.data_label("pilot.csv", False, {"true_effect": 5.0}, "en") == ("pilot.csv", "generated")
    assert pilot_narrative.data_label("pilot.csv", False, None, "en") == ("pilot.csv", "real")
    assert pilot_narrative.data_label("", True, None, "zh-CN")[0].startswith("模拟试点")


def test_index_card_shows_the_data_and_flags_simulated_data(tmp_path):
    studies = [{
        "name": "pilot", "title": "Pilot", "description": "",
        "rows": [{
            "title": "Pilot readout", "headline": [{"label": "Decision", "value": "Roll out"}], "extra": [],
            "data_source": {"label": "Simulated pilot <b>", "kind": "simulated"},
            "versions": [{"lang": "en", "label": "English", "href": "pilot.html", "status": "ok", "error": "",
                          "updated": "", "failed_at": "", "headline": [], "extra": []}],
        }],
    }]
    path = write_index(tmp_path, title="Site", lang="en", studies=studies)
    soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
    line = soup.select_one("p.data-source")
    assert line is not None and "Simulated pilot <b>" in line.get_text()  # escaped, shown as text
    assert line.select_one(".badge.simulated").get_text() == "simulated data"


def test_a_page_reading_a_folder_of_tables_names_that_folder_not_cdnow(tmp_path):
    """Studies that read a folder (data_dir: tags, triggers, campaigns) are not CDNOW pages."""
    from helpers.site.config import data_source_for

    (tmp_path / "brand").mkdir()
    (tmp_path / "brand" / "truth.json").write_text("{}", encoding="utf-8")
    assert data_source_for({"data_dir": "brand"}) == "brand"
    assert data_source_for({"data_path": "x.csv", "data_dir": "brand"}) == "x.csv"
    job = SimpleNamespace(not_passed={}, arguments={"data_dir": "brand"})
    source = build_mod.page_data_source(SimpleNamespace(root=tmp_path), job, None, page_mod.chrome_labels("en"))
    assert source == {"label": "brand", "kind": "generated"}
