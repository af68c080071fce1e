"""The fast YAML reader (libyaml) gives what ``yaml.safe_load`` gives, values and errors."""

import pytest
import yaml

from helpers.errors import ConfigError
from helpers.files import load_yaml_text, read_yaml

from ._paths import PLAYBOOKS, ROOT

LOCALES = ROOT / "src" / "helpers" / "report" / "locales"
SHIPPED = sorted(LOCALES.rglob("*.yaml")) + sorted(PLAYBOOKS.rglob("*.yaml"))


def test_shipped_yaml_files_read_the_same_as_safe_load():
    assert len(SHIPPED) > 20
    for path in SHIPPED:
        text = path.read_text(encoding="utf-8")
        assert load_yaml_text(text) == yaml.safe_load(text), path


@pytest.mark.parametrize("text", [
    "a: 1\nb: [1, 2.5, x]\nc: {d: null, e: true}\n",
    "when: 2024-01-31\nzero: 0o17\nhex: 0x1F\nyes_word: yes\ntext: '1e3'\nsci: 1.0e+3\n",
    "名称: 会员\nlist:\n  - 一\n  - \"二\\t三\"\n",
    "anchor: &x {k: 1}\nalias: *x\nmerged: {<<: *x, j: 2}\n",
    "",
])
def test_values_match_safe_load(text):
    assert load_yaml_text(text) == yaml.safe_load(text)


def test_invalid_yaml_raises_what_safe_load_raises(tmp_path):
    text = "a: [1, 2\nb: 3\n"
    with pytest.raises(yaml.YAMLError) as expected:
        yaml.safe_load(text)
    with pytest.raises(yaml.YAMLError) as got:
        load_yaml_text(text)
    assert str(got.value) == str(expected.value)
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad.yaml: not valid YAML \(line"):
        read_yaml(path)


def test_unsafe_tags_are_refused():
    with pytest.raises(yaml.YAMLError):
        load_yaml_text("x: !!python/object/apply:os.system ['true']\n")
