"""Every config kind is a pydantic model: its JSON schema is exported, accepts the shipped
files and refuses what the loader refuses; a bad value is one ConfigError line naming the
file, the key path and the value."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from helpers.__main__ import SCHEMAS, json_schema, main
from helpers.data.generator.config import GeneratorConfig
from helpers.errors import ConfigError
from helpers.site.config import load_config
from helpers.studies.loyalty.design import load_design
from helpers.studies.pilot.analysis import ReadoutSettings
from helpers.studies.segments.actions import load_action_library
from helpers.studies.segments.analysis import load_segment_map

ROOT = Path(__file__).resolve().parents[1]
PLAYBOOKS = ROOT / "playbooks"
SHIPPED = {
    "playbooks": [PLAYBOOKS / "playbooks.yaml"],
    "segment-map": [PLAYBOOKS / "segment_map.yaml"],
    "actions": [PLAYBOOKS / "actions.yaml"],
    "design": sorted((PLAYBOOKS / "designs").glob("*.yaml")),
    "triggers": [PLAYBOOKS / "triggers.yaml"],
    "tags": [PLAYBOOKS / "tags.yaml"],
}


def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json_schema(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("name", list(SHIPPED))
def test_the_shipped_files_match_their_exported_schema(name):
    validator = _validator(name)
    for path in SHIPPED[name]:
        errors = list(validator.iter_errors(yaml.safe_load(path.read_text(encoding="utf-8"))))
        assert not errors, (path.name, [e.message for e in errors[:3]])


def test_the_generator_and_pilot_schemas_match_their_defaults_and_truth_json():
    truth = json.loads((ROOT / "data" / "newretail" / "truth.json").read_text(encoding="utf-8"))
    _validator("generator").validate(truth["config"])
    _validator("generator").validate(GeneratorConfig().to_dict())
    _validator("pilot").validate(ReadoutSettings().model_dump())
    assert not _validator("generator").is_valid({**truth["config"], "customers": 10})  # unknown key
    assert not _validator("pilot").is_valid({"alpha": 0.5})  # the model's bound is in the schema


def test_the_schema_command_prints_and_writes_every_schema(tmp_path, capsys):
    assert main(["schema", "segment-map"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["title"] == "SegmentMapFile" and printed["additionalProperties"] is False
    assert main(["schema", "--all", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{n}.schema.json" for n in SCHEMAS)
    assert main(["schema", "nope"]) == 2
    assert "no config kind 'nope'" in capsys.readouterr().err
    run = subprocess.run([sys.executable, "-m", "helpers", "schema", "design"], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    assert "redemption_threshold" in json.loads(run.stdout)["$defs"]["Burn"]["properties"]


def _one_line(call) -> str:
    with pytest.raises(ConfigError) as err:
        call()
    message = str(err.value)
    assert "\n" not in message and "Traceback" not in message
    return message


def _write_yaml(path: Path, raw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_a_bad_value_in_each_config_kind_is_one_line_naming_file_key_and_value(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    raw = yaml.safe_load((PLAYBOOKS / "playbooks.yaml").read_text(encoding="utf-8"))
    raw["studies"][2]["parallel"] = "sometimes"
    name = raw["studies"][2]["name"]
    path = _write_yaml(tmp_path / "playbooks" / "playbooks.yaml", raw)
    assert _one_line(lambda: load_config(path)) == (
        f"playbooks/playbooks.yaml: studies[2] ({name}).parallel = 'sometimes': expected true or false"
    )

    raw = yaml.safe_load((PLAYBOOKS / "segment_map.yaml").read_text(encoding="utf-8"))
    raw["segments"][3]["f"] = "0-2"
    key = raw["segments"][3]["key"]
    path = _write_yaml(tmp_path / "map.yaml", raw)
    assert _one_line(lambda: load_segment_map(path)) == (
        f"{path}: segments[3] ({key}).f = '0-2': '0-2' is not a score; use 1..5, a range such as 4-5, or a list"
    )

    smap = load_segment_map(PLAYBOOKS / "segment_map.yaml")
    raw = yaml.safe_load((PLAYBOOKS / "actions.yaml").read_text(encoding="utf-8"))
    raw["segments"]["loyal"]["offer"]["clv_share"] = "5%"
    path = _write_yaml(tmp_path / "actions.yaml", raw)
    assert _one_line(lambda: load_action_library(path, smap)) == (
        f"{path}: segments.loyal.offer.clv_share = '5%': expected a number"
    )

    raw = yaml.safe_load((PLAYBOOKS / "designs" / "tiered.yaml").read_text(encoding="utf-8"))
    raw["tiers"]["levels"][1]["benefits"]["discount_pct"] = 150
    level = raw["tiers"]["levels"][1]["name"]
    level = level if isinstance(level, str) else None
    path = _write_yaml(tmp_path / "tiered.yaml", raw)
    named = f" ({level})" if level else ""
    assert _one_line(lambda: load_design(path)) == (
        f"{path}: tiers.levels[1]{named}.benefits.discount_pct = 150: expected a value <= 100.0"
    )

    assert _one_line(lambda: GeneratorConfig.from_dict({"seed": 1, "tier_discount": {"bronze": 0, "silver": 1.2, "gold": 0.1}},
                                                      "my_config.json")) == (
        "my_config.json: tier_discount.silver = 1.2: expected a number in [0, 0.9]"
    )
    assert _one_line(lambda: ReadoutSettings(alpha=0.05, seed=-3)) == "pilot settings: seed = -3: expected a value >= 0"


def _notebook_default(notebook: str, name: str):
    """The default of parameter ``name`` in the notebook's ``parameters`` cell."""
    import ast

    import nbformat

    nb = nbformat.read(ROOT / "notebooks" / notebook, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    for node in ast.parse(cell.source).body:
        target = getattr(node, "target", None) or (node.targets[0] if getattr(node, "targets", None) else None)
        if getattr(target, "id", None) == name:
            return ast.literal_eval(node.value)
    raise AssertionError(f"{notebook} has no parameter {name}")


def test_kpi_targets_are_a_model_whose_schema_takes_the_notebook_default():
    from helpers.studies.kpi.analysis import KPIS, parse_targets

    default = _notebook_default("kpi.ipynb", "targets")
    validator = _validator("kpi-targets")
    assert not list(validator.iter_errors(default))
    assert validator.is_valid({"churn_rate": {"value": 0.1, "source": {"en": "plan", "zh-CN": "年度计划"}}})
    assert not validator.is_valid({"aov": 200}) and not validator.is_valid({"repeat_rate": -0.1})
    # same results as written: numbers and {value, source}, in the order given
    targets = parse_targets({"churn_rate": {"value": 0.1, "source": "case: -20% churn"}, "repeat_rate": 1})
    assert list(targets) == ["churn_rate", "repeat_rate"] and set(targets) <= set(KPIS)
    assert (targets["churn_rate"].value, targets["churn_rate"].source) == (0.1, "case: -20% churn")
    assert (targets["repeat_rate"].value, targets["repeat_rate"].source) == (1.0, "")
    assert parse_targets(None) == {} and parse_targets({}) == {}
    assert _one_line(lambda: parse_targets({"repeat_rate": "high"})) == (
        "parameters: targets.repeat_rate = 'high': expected a number >= 0, or {value: number, source: text}"
    )
    assert _one_line(lambda: parse_targets({"churn_rate": {"value": -0.1}})) == (
        "parameters: targets.churn_rate.value = -0.1: expected a value >= 0.0"
    )
    assert _one_line(lambda: parse_targets({"aov": 200})).startswith(
        "parameters: targets.aov = 200: unknown key; allowed keys here: new_members,"
    )


def test_a_bad_trigger_rule_is_one_line_naming_file_key_and_value(tmp_path):
    from helpers.studies.triggers.rules import load_rules

    raw = yaml.safe_load((PLAYBOOKS / "triggers.yaml").read_text(encoding="utf-8"))
    validator = _validator("triggers")
    assert not validator.is_valid({**raw, "rules": [{**raw["rules"][0], "k": 50}]})  # the bound is in the schema
    assert not validator.is_valid({**raw, "rules": [{**raw["rules"][0], "kind": "nope"}]})
    shipped = load_rules(PLAYBOOKS / "triggers.yaml")
    first = raw["rules"][0]  # a due rule: k as written, the rest defaults
    assert (shipped.rules[0].id, shipped.rules[0].params, shipped.rules[0].guards.min_p_alive) == (
        first["id"], {"k": first["k"]}, first["guards"]["min_p_alive"])
    assert shipped.settings.quiet_hours == tuple(raw["settings"]["quiet_hours"])

    raw["rules"][3]["send_hour"] = 24
    path = _write_yaml(tmp_path / "triggers.yaml", raw)
    assert _one_line(lambda: load_rules(path)) == f"{path}: rules[3] ({raw['rules'][3]['id']}).send_hour = 24: expected a value <= 23"
    raw["rules"][3]["send_hour"] = 8
    raw["rules"][1]["k"] = 1.2  # a field of another kind
    path = _write_yaml(tmp_path / "triggers.yaml", raw)
    assert _one_line(lambda: load_rules(path)) == (
        f"{path}: rules[1] ({raw['rules'][1]['id']}).k = 1.2: unknown key for a birthday rule; allowed keys here: id, name, kind, offer, guards, days_before"
    )
    del raw["rules"][1]["k"]
    raw["rules"][6]["guards"]["max_p_alive"] = 0.1
    path = _write_yaml(tmp_path / "triggers.yaml", raw)
    assert _one_line(lambda: load_rules(path)) == (
        f"{path}: rules[6] ({raw['rules'][6]['id']}).guards.min_p_alive = 0.15: is above max_p_alive (0.1)"
    )


def test_a_bad_tag_is_one_line_naming_file_tag_key_and_value(tmp_path):
    from helpers.studies.tags.engine import load_library

    raw = yaml.safe_load((PLAYBOOKS / "tags.yaml").read_text(encoding="utf-8"))
    validator = _validator("tags")
    assert not validator.is_valid({**raw, "tags": [{**raw["tags"][0], "window_days": 0}]})  # the bound is in the schema
    assert not validator.is_valid({**raw, "tags": [{**raw["tags"][0], "colour": "red"}]})
    shipped = load_library(PLAYBOOKS / "tags.yaml")
    first = raw["tags"][0]  # a metric rule: as written, min_orders 0 and no max by default
    assert shipped.tags[0].params == {"metric": first["metric"], "window_days": first["window_days"],
                                      "min": float(first["min"]), "max": None, "min_orders": 0}
    assert shipped.tags[0].name == first["name"] and shipped.groups["value"] == raw["groups"]["value"]

    i = next(k for k, t in enumerate(raw["tags"]) if t["kind"] == "behaviour" and "min_count" in t)
    tag_id = raw["tags"][i]["id"]
    raw["tags"][i]["min_count"] = 2.5
    path = _write_yaml(tmp_path / "tags.yaml", raw)
    assert _one_line(lambda: load_library(path)) == f"{path}: tags[{i}] ({tag_id}).min_count = 2.5: expected a whole number"
    raw["tags"][i]["min_count"] = 3
    raw["tags"][i]["group"] = "vip"
    path = _write_yaml(tmp_path / "tags.yaml", raw)
    assert _one_line(lambda: load_library(path)) == (
        f"{path}: tags[{i}] ({tag_id}).group = 'vip': not one of the groups {', '.join(raw['groups'])}"
    )
