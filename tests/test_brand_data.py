"""One business on every page: the shared generated dataset (helpers.site.data), the
``{data}`` placeholder, shared definitions, the delivery channel and the model check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from helpers.data.generator import GeneratorConfig, generate
from helpers.errors import ConfigError
from helpers.site.config import DEFINITION_PARAMETERS, load_config
from helpers.site.data import (
    STAMP_FILE,
    describe,
    ensure_data,
    is_current,
    parse_data_spec,
)

from ._playbook_repo import make_repo

REPO = Path(__file__).resolve().parents[1]

TINY = {"seed": 5, "n_customers": 300, "start": "2024-01-01", "end": "2024-12-31", "pilot_share": 0.0}


def _spec(**generator):
    return parse_data_spec(
        {"name": {"en": "Test brand", "zh-CN": "测试品牌"}, "folder": "build/data/brand", "generator": {**TINY, **generator}},
        "playbooks.yaml: data",
    )


def test_shared_data_is_generated_once_and_again_only_when_the_settings_change(tmp_path):
    spec = _spec()
    folder, truth, generated = ensure_data(spec, tmp_path)
    assert generated and folder == tmp_path / "build" / "data" / "brand"
    assert truth["counts"]["customers"] == 300 and truth["config"]["seed"] == 5
    assert is_current(spec, folder)
    stamp = (folder / STAMP_FILE).read_text()
    before = (folder / "transactions.csv").stat().st_mtime_ns

    _, _, generated = ensure_data(spec, tmp_path)  # warm: nothing regenerated
    assert not generated and (folder / "transactions.csv").stat().st_mtime_ns == before

    bigger = spec.with_customers(400)
    assert bigger.key() != spec.key()
    _, truth, generated = ensure_data(bigger, tmp_path)
    assert generated and truth["counts"]["customers"] == 400
    assert (folder / STAMP_FILE).read_text() != stamp
    assert not is_current(spec, folder)
    # an incomplete folder (a table deleted) is not current either
    (folder / "customers.csv").unlink()
    assert not is_current(bigger, folder)
    assert not list(tmp_path.glob("build/data/brand.tmp-*"))


def test_same_seed_same_data_and_the_truth_file_matches_the_tables(tmp_path):
    a, _, _ = ensure_data(_spec(), tmp_path / "a")
    b, _, _ = ensure_data(_spec(), tmp_path / "b")
    assert (a / "transactions.csv").read_bytes() == (b / "transactions.csv").read_bytes()
    truth = json.loads((a / "truth.json").read_text())
    customers = (a / "customers.csv").read_text().count("\n") - 1
    assert truth["counts"]["customers"] == customers == 300


@pytest.mark.parametrize(
    "raw, message",
    [
        ({"name": "x", "folder": "d", "colour": 1}, "unknown key 'colour'"),
        ({"folder": "d"}, "'name' must be text"),
        ({"name": "x"}, "'folder' must be a folder path"),
        ({"name": "x", "folder": "d", "generator": {"n_customer": 5}}, "unknown generator setting"),
        ({"name": "x", "folder": "d", "generator": {"n_customers": 0}}, "n_customers = 0"),
        ({"name": "x", "folder": "d", "format": "xlsx"}, "'format' must be one of"),
    ],
)
def test_bad_data_blocks_are_one_line_config_errors(raw, message):
    with pytest.raises(ConfigError, match=message) as err:
        parse_data_spec(raw, "playbooks/playbooks.yaml: data")
    assert str(err.value).startswith("playbooks/playbooks.yaml: data")


def test_describe_names_the_data_generated_window_and_customers():
    spec = _spec()
    truth = {"counts": {"customers": 300}}
    line = describe(spec, truth, "en")
    assert line == "Test brand: generated data (seed 5), 2024-01-01 to 2024-12-31, 300 customers"
    assert describe(spec, truth, "zh-CN") == "测试品牌：生成数据（随机种子 5），2024-01-01 至 2024-12-31，300 位客户"


def _demo_config(tmp_path, **top):
    config = {
        "output": "playbooks/site",
        "build": "build",
        "data": {"name": "Test brand", "folder": "build/data/brand", "generator": TINY},
        "studies": [
            {
                "name": "demo",
                "title": "Demo",
                "notebook": "notebooks/demo.ipynb",
                "languages": ["en", "zh-CN"],
                "parameters": {"data_path": "{data}/transactions.csv", "output_dir": "build/outputs/{page}"},
            }
        ],
        **top,
    }
    return make_repo(tmp_path, config)


def test_data_placeholder_and_shared_definitions_reach_every_page(tmp_path):
    path = _demo_config(tmp_path, definitions={"observation_end": "2024-12-31"})
    config = load_config(path)
    assert config.data.folder == "build/data/brand"
    for page in config.pages:
        assert page.parameters["data_path"] == "build/data/brand/transactions.csv"
    # the demo notebook has no observation_end parameter: a definition reaches only notebooks that take it
    assert all("observation_end" not in p.parameters for p in config.pages)


def test_a_study_may_not_define_a_shared_concept_a_second_time(tmp_path):
    path = _demo_config(tmp_path, definitions={"new_days": 90})
    raw = yaml.safe_load(path.read_text())
    raw["studies"][0]["notebook"] = str(REPO / "notebooks" / "customer_base.ipynb")
    raw["studies"][0]["parameters"]["new_within_days"] = 30
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    with pytest.raises(ConfigError, match="new_within_days.*contradicts definitions.new_days"):
        load_config(path)
    raw["studies"][0]["parameters"]["new_within_days"] = 90  # the same value is no contradiction
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    page = load_config(path).pages[0]
    assert page.parameters["new_within_days"] == 90


def test_unknown_definitions_are_config_errors(tmp_path):
    path = _demo_config(tmp_path, definitions={"loyal_customers": 4})
    with pytest.raises(ConfigError, match="unknown definition 'loyal_customers'"):
        load_config(path)


def test_the_repo_site_runs_every_page_on_the_brand_with_one_set_of_definitions():
    config = load_config(REPO / "playbooks" / "playbooks.yaml")
    assert config.data is not None and config.data.config().n_customers >= 50_000
    gen = config.data.config()
    years = (GeneratorConfig.from_dict(config.data.generator).n_days) / 365.25
    assert 2 <= years <= 3
    assert {"store", "mini_program", "app", "delivery"} <= set(gen.channel_mix)
    for page in config.pages:
        if page.study_name == "model_check":
            assert "data_path" not in page.parameters  # the CDNOW evidence page
            continue
        # data inputs only (rules_path, output_dir, cache_dir are not data)
        paths = [v for k, v in page.parameters.items()
                 if (k.endswith("_path") or k == "data_dir") and k not in ("truth_path", "rules_path")]
        assert paths and all(v == config.data.folder or v.startswith(config.data.folder + "/") for v in paths), page.name
        assert page.parameters.get("currency", "¥") == "¥"
    # every notebook parameter that carries a shared definition gets the one value
    from helpers.site.run import notebook_parameters

    for page in config.pages:
        declared = notebook_parameters(page.notebook) or {}
        for concept, value in config.definitions.items():
            for name in DEFINITION_PARAMETERS[concept]:
                if name in declared:
                    assert page.parameters[name] == value, (page.name, name)


def test_the_delivery_channel_plants_its_lunch_and_dinner_peaks_and_ticket_rate():
    cfg = GeneratorConfig(
        n_customers=4000, seed=21,
        channel_mix={"store": 0.5, "delivery": 0.5},
        return_rate={"store": 0.01, "delivery": 0.02},
        ticket_rate={"store": 0.004, "delivery": 0.08},
    )
    data = generate(cfg)
    orders = data.transactions.drop_duplicates("order_id")
    delivery = orders[orders["channel"] == "delivery"]
    assert len(delivery) > 1000 and (delivery["store"] == "ONLINE").all()
    hours = delivery["timestamp"].dt.hour
    meal = hours.isin([11, 12, 18, 19]).mean()
    # planted profile: those four hours carry 0.4 of the day's delivery weight
    from helpers.data.generator.context import HOUR_WEIGHTS

    w = HOUR_WEIGHTS["delivery"]
    expected = (w[11] + w[12] + w[18] + w[19]) / sum(w)
    assert meal == pytest.approx(expected, abs=0.03)
    tickets = data.service_tickets.merge(orders[["order_id", "channel"]], on="order_id", suffixes=("_contact", ""))
    rate = (tickets["channel"] == "delivery").sum() / len(delivery)
    assert 0.5 * 0.08 < rate < 1.5 * 0.08


# ------------------------------------------------------------------ downloads


def test_published_csv_is_utf8_with_bom_formula_safe_and_keeps_numbers(tmp_path):
    from helpers.site.downloads import link_mentions, publish_csv

    source = tmp_path / "list.csv"
    source.write_text(
        "customer_id,segment_label,clv,note\n"
        "C-1a,重要价值客户,-12.5,=HYPERLINK(\"http://x\")\n"
        "C-2b,稳定老客,1e3,+1 call\n"
        "C-3c,@risk,0.75,-\n",
        encoding="utf-8",
    )
    target = publish_csv(source, tmp_path / "site" / "files" / "list.csv")
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel reads Chinese correctly
    rows = raw.decode("utf-8-sig").splitlines()
    assert rows[1] == "C-1a,重要价值客户,-12.5,\"'=HYPERLINK(\"\"http://x\"\")\""
    assert rows[2] == "C-2b,稳定老客,1e3,'+1 call"
    assert rows[3] == "C-3c,'@risk,0.75,'-"
    html = "<p>List: <code>build/outputs/x/list.csv</code>; again build/outputs/x/list.csv.</p>"
    linked = link_mentions(html, {"build/outputs/x/list.csv": "x/files/list.csv"})
    assert linked.count('<a class="download" href="x/files/list.csv" download>list.csv</a>') == 2
    assert "build/outputs" not in linked


# ------------------------------------------------------------------ model check


def test_model_check_reproduces_every_published_number_to_its_precision():
    from helpers.studies.model_check.analysis import PUBLISHED, check_models

    check = check_models()
    assert (check.customers, check.repeat_buyers) == (2357, 946)  # the papers' sample
    table = check.table.set_index(["model", "parameter"])
    assert len(table) == len(PUBLISHED) == 13
    # the published numbers, typed in from the papers, not from our output
    assert table.loc[("bgnbd", "r"), "published"] == 0.243 and table.loc[("bgnbd", "log_likelihood"), "published"] == -9582.4
    assert table.loc[("pareto", "log_likelihood"), "published"] == -9595.0
    assert table.loc[("gamma_gamma", "v"), "published"] == 15.44
    for (model, parameter), row in table.iterrows():
        # ours rounds to the published value at the precision the paper reports
        assert round(row["ours"], int(row["decimals"])) == pytest.approx(row["published"]), (model, parameter)
    assert check.all_within_rounding


def test_model_check_refuses_other_data():
    from helpers.studies.model_check.analysis import check_models

    with pytest.raises(ConfigError, match="cdnow:sample"):
        check_models("build/data/brand/transactions.csv")


@pytest.mark.slow
@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_model_check_page_in_both_languages(tmp_path, language):
    import nbformat

    from helpers.report.page import collect_headlines
    from helpers.site.run import execute_notebook

    nb = execute_notebook(REPO / "notebooks" / "model_check.ipynb", {"language": language, "output_dir": str(tmp_path)},
                          tmp_path / "run.ipynb", cwd=REPO, progress=False)
    texts = "\n".join(
        "".join(o.get("data", {}).get("text/markdown", "")) for c in nb.cells for o in c.get("outputs", [])
    )
    headline = {h["label"]: h["value"] for h in collect_headlines(nb)}
    if language == "en":
        assert "All 13 published numbers are reproduced" in texts
        assert headline["published numbers reproduced"] == "13 / 13"
    else:
        assert "全部 13 个数值均按论文报告的精度复现" in texts
        assert headline["复现的论文数值"] == "13 / 13"
    assert (tmp_path / "model_check.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert (tmp_path / "figures" / "model_check_differences.png").is_file()
    assert isinstance(nb, nbformat.NotebookNode)
