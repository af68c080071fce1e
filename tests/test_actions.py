"""The action library (validation on load), offer guardrails and activation lists."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from helpers.data.privacy import pseudonymise, resolve_key
from helpers.errors import ConfigError
from helpers.studies.segments.actions import (
    ACTIVATION_COLUMNS,
    PLAYBOOK_FIELDS,
    Offer,
    activation_table,
    customer_max_discount,
    load_action_library,
    offer_guardrail,
    write_activation_files,
)
from helpers.studies.segments.analysis import load_segment_map

from ._paths import ACTIONS as DEFAULT_LIBRARY
from ._paths import SEGMENT_MAP as DEFAULT_MAP


@pytest.fixture(scope="module")
def smap():
    return load_segment_map(DEFAULT_MAP)


def _mutated(tmp_path: Path, edit) -> Path:
    raw = yaml.safe_load(DEFAULT_LIBRARY.read_text(encoding="utf-8"))
    edit(raw)
    path = tmp_path / "my_actions.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# ------------------------------------------------------------------------ library


def test_default_library_covers_every_segment_with_every_field(smap):
    library = load_action_library(DEFAULT_LIBRARY, smap)
    assert list(library.playbooks) == smap.keys
    for play in library.playbooks.values():
        for name in PLAYBOOK_FIELDS:
            assert getattr(play, name), (play.key, name)
        assert 0 <= play.offer.max_depth <= 1 and 0 <= play.offer.clv_share <= 1
    assert set(library.tiers) == {"value_growth", "clv", "lifecycle"}
    assert library.max_share_of_margin == 0.5


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda raw: raw["segments"].update(vip=raw["segments"]["champions"]), "unknown segment 'vip'"),
        (lambda raw: raw["segments"].pop("hibernating"), "no entry for the segment 'hibernating'"),
        (lambda raw: raw["segments"]["champions"].pop("kpis"), "segments.champions: missing field kpis"),
        (lambda raw: [raw["segments"]["loyal"].pop(f) for f in ("trigger", "timing")],
         "segments.loyal: missing fields trigger, timing"),
        (lambda raw: raw["segments"]["loyal"].update(objectiv="typo"), "segments.loyal.objectiv = 'typo': unknown key; allowed keys here: objective, actions"),
        (lambda raw: raw["segments"]["new"]["offer"].pop("clv_share"), "segments.new.offer: missing field clv_share"),
        (lambda raw: raw["segments"]["new"]["offer"].update(max_depth=1.5), "segments.new.offer.max_depth = 1.5: expected a fraction from 0 to 1"),
        (lambda raw: raw["segments"]["new"]["offer"].update(offers=-1), "segments.new.offer.offers = -1: expected a value >= 0"),
        (lambda raw: raw["segments"]["new"].update(actions=[]), "segments.new.actions = []: expected a non-empty list of text"),
        (lambda raw: raw["tiers"].update(rfm={}), "tiers.rfm = {}: unknown key; allowed keys here: value_growth, clv, lifecycle"),
        (lambda raw: raw["tiers"]["clv"].pop("growing"), "tiers.clv: no entry for the tier 'growing'"),
        (lambda raw: raw["tiers"]["clv"]["growing"].pop("actions"), "tiers.clv.growing: missing field actions"),
        (lambda raw: raw["policy"].update(max_share_of_margin=0), "policy.max_share_of_margin = 0: expected a fraction from above 0 to 1"),
        (lambda raw: raw.update(channels=[]), "my_actions.yaml: channels = []: unknown key; allowed keys here: name, description, policy, segments, tiers"),
    ],
)
def test_library_mistakes_are_config_errors_naming_file_and_segment(tmp_path, smap, edit, expected):
    with pytest.raises(ConfigError, match=re.escape(expected)) as err:
        load_action_library(_mutated(tmp_path, edit), smap)
    assert "my_actions.yaml" in str(err.value)


def test_unknown_segment_message_lists_the_map_segments(tmp_path, smap):
    path = _mutated(tmp_path, lambda raw: raw["segments"].update(vip=raw["segments"]["champions"]))
    with pytest.raises(ConfigError) as err:
        load_action_library(path, smap)
    assert "segment_map.yaml" in str(err.value) and "champions, loyal" in str(err.value)


def test_tiers_are_optional_and_bad_yaml_is_named(tmp_path, smap):
    library = load_action_library(_mutated(tmp_path, lambda raw: raw.pop("tiers")), smap)
    assert library.tiers == {}
    bad = tmp_path / "bad.yaml"
    bad.write_text("segments: {champions: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad.yaml: not valid YAML"):
        load_action_library(bad, smap)


# --------------------------------------------------------------------- guardrails


def test_guardrail_takes_the_smallest_bound_by_hand():
    # margin cap 0.5 x 0.3 = 15%; CLV bound 10% x 100 / (2 x 50) = 10%; policy 20% -> CLV binds
    g = offer_guardrail(Offer(0.20, 0.10, 2), clv_per_customer=100.0, order_value=50.0, gross_margin=0.3,
                        max_share_of_margin=0.5)
    assert g.binding == "clv" and g.max_depth == pytest.approx(0.10) and g.amount_per_order == pytest.approx(5.0)
    assert g.budget_per_customer == pytest.approx(10.0) and g.margin_depth == pytest.approx(0.15)
    # rich customers: CLV bound 0.1 x 10000 / 100 = 10 (1000%) -> margin cap binds
    g = offer_guardrail(Offer(0.20, 0.10, 2), clv_per_customer=10_000.0, order_value=50.0, gross_margin=0.3,
                        max_share_of_margin=0.5)
    assert g.binding == "margin" and g.max_depth == pytest.approx(0.15)
    g = offer_guardrail(Offer(0.05, 0.10, 2), clv_per_customer=10_000.0, order_value=50.0, gross_margin=0.3,
                        max_share_of_margin=0.5)
    assert g.binding == "policy" and g.max_depth == pytest.approx(0.05) and g.amount_per_order == pytest.approx(2.5)


def test_guardrail_without_offers_or_customers():
    g = offer_guardrail(Offer(0.1, 0.1, 0), clv_per_customer=100.0, order_value=50.0, gross_margin=0.3,
                        max_share_of_margin=0.5)
    assert g.binding == "none" and g.max_depth == 0.0
    g = offer_guardrail(Offer(0.1, 0.1, 1), clv_per_customer=float("nan"), order_value=float("nan"),
                        gross_margin=0.3, max_share_of_margin=0.5)
    assert math.isnan(g.max_depth)
    g = offer_guardrail(Offer(0.1, 0.1, 1), clv_per_customer=-5.0, order_value=50.0, gross_margin=0.3,
                        max_share_of_margin=0.5)
    assert g.max_depth == 0.0  # a negative CLV never makes a negative discount


def test_customer_max_discount_by_hand(smap):
    library = load_action_library(DEFAULT_LIBRARY, smap)
    champions, loyal = library["champions"].offer, library["loyal"].offer
    customers = pd.DataFrame(
        {"segment": ["champions", "loyal", "loyal"], "expected_spend": [40.0, 50.0, 50.0], "clv": [1000.0, 20.0, 0.0]},
        index=pd.Index(["a", "b", "c"], name="customer_id"),
    )
    got = customer_max_discount(customers, library, gross_margin=0.3)
    expected_a = min(champions.max_depth * 40, 0.15 * 40, champions.clv_share * 1000 / champions.offers)
    expected_b = min(loyal.max_depth * 50, 0.15 * 50, loyal.clv_share * 20 / loyal.offers)
    np.testing.assert_allclose(got.to_numpy(), [expected_a, expected_b, 0.0])


def test_customer_max_discount_from_categories_equals_from_text(smap):
    """Segment parameters are looked up per category; plain text, another category order and
    a missing segment give the same amounts (none for the missing one, as the text lookup gave)."""
    library = load_action_library(DEFAULT_LIBRARY, smap)
    rng = np.random.default_rng(2)
    n = 200
    text = pd.Series(rng.choice(smap.keys, n), index=pd.Index([f"c{i}" for i in range(n)], name="customer_id"))
    text.iloc[3] = None
    base = pd.DataFrame({"expected_spend": rng.gamma(2, 20, n), "clv": rng.gamma(1, 50, n) - 5}, index=text.index)
    plain = customer_max_discount(base.assign(segment=text), library, gross_margin=0.3)
    for cats in (smap.keys, list(reversed(smap.keys))):
        coded = base.assign(segment=pd.Categorical(text, categories=cats))
        pd.testing.assert_series_equal(customer_max_discount(coded, library, gross_margin=0.3), plain)
    assert plain.iloc[3] == 0.0 and plain.notna().all()  # no segment: no offer


# --------------------------------------------------------------------- activation


def _customers(smap) -> pd.DataFrame:
    ids = pd.Index(["00042", "00007", "00100", "00003"], name="customer_id")
    return pd.DataFrame(
        {
            "segment": pd.Categorical(["champions", "champions", "hibernating", "loyal"], categories=smap.keys),
            "r_score": [5, 5, 1, 3], "f_score": [5, 4, 1, 4], "m_score": [5, 4, 1, 3],
            "recency_days": [3, 5, 400, 90], "purchase_days": [12, 8, 1, 6], "revenue": [900.0, 500, 20, 300],
            "p_alive": [0.95, 0.9, 1.0, 0.6], "clv": [300.0, 300.0, 1.0, 50.0], "clv_at_risk": [15.0, 30, 0, 33],
            "clv_tier": "growing", "value_tier": "core", "lifecycle": "loyal",
        },
        index=ids,
    )


def test_activation_rows_are_pseudonymised_and_sorted(smap):
    customers = _customers(smap)
    discount = pd.Series([9.0, 8.0, 0.0, 1.0], index=customers.index)
    table = activation_table(customers, smap, max_discount=discount, id_key="k")
    assert list(table.columns) == ACTIVATION_COLUMNS
    # CLV descending; the tie at 300 goes to the lower raw id first (00007 before 00042)
    expected_ids = pseudonymise(pd.Series(["00007", "00042", "00003", "00100"]), "k").tolist()
    assert table["customer_id"].tolist() == expected_ids
    assert not table["customer_id"].isin(customers.index).any()
    assert table["segment_label"].tolist() == ["Champions", "Champions", "Regulars", "Long inactive"]
    assert table["next_best_category"].isna().all()
    raw = activation_table(customers, smap, max_discount=discount, allow_raw_ids=True)
    assert raw["customer_id"].tolist() == ["00007", "00042", "00003", "00100"]


def test_activation_rows_take_ids_made_beforehand_in_the_customers_order(smap):
    """The pseudonyms a study makes in the background give the same table; the ids passed
    are the ones shown, each on its own customer's row."""
    from helpers.studies.segments.actions import shown_customer_ids

    customers = _customers(smap)
    discount = pd.Series([9.0, 8.0, 0.0, 1.0], index=customers.index)
    made = shown_customer_ids(customers, id_key="k")
    pd.testing.assert_frame_equal(activation_table(customers, smap, max_discount=discount, id_key="k", shown_ids=made),
                                  activation_table(customers, smap, max_discount=discount, id_key="k"))
    labels = pd.Series([f"row {i}" for i in range(len(customers))])
    table = activation_table(customers, smap, max_discount=discount, shown_ids=labels)
    by_label = table.set_index("customer_id")["predicted_clv"]
    assert [by_label[f"row {i}"] for i in range(len(customers))] == customers["clv"].round(2).tolist()


def test_activation_ties_go_by_id_text_whatever_the_index(smap):
    """Rows are ordered on integer ranks of the id text: the sorted text index of a study, an
    unsorted one and numbers (text order: "10" before "9") all tie as the text does."""
    customers = _customers(smap).assign(clv=300.0)
    discount = pd.Series(1.0, index=customers.index)
    for ids in (["a", "b", "c", "d"], ["d", "b", "c", "a"], [9, 10, 100, 2]):
        frame = customers.set_axis(pd.Index(ids, name="customer_id"))
        table = activation_table(frame, smap, max_discount=discount.set_axis(frame.index), allow_raw_ids=True)
        assert table["customer_id"].tolist() == sorted(str(i) for i in ids)
        by_id = frame.set_axis(frame.index.astype(str)).loc[table["customer_id"]]
        assert table["segment"].tolist() == by_id["segment"].astype(str).tolist()
        assert table["r_score"].tolist() == by_id["r_score"].tolist()


@pytest.mark.parametrize("nexts", [["tops", None, "shoes", "tops"], [None] * 4, ["a", "b", "c", "d"]])
def test_activation_next_category_is_each_customers_own(smap, nexts):
    """The next-best category is taken in row order as codes of its few values: each row gets
    its customer's category (missing stays missing), with the same dtype as taking the text,
    and the ids keep the dtype of the ids given."""
    customers = _customers(smap)
    discount = pd.Series(1.0, index=customers.index)
    suggestion = pd.Series(nexts, index=customers.index[::-1], name="next_category")  # another order
    table = activation_table(customers, smap, max_discount=discount, next_category=suggestion, allow_raw_ids=True)
    expected = suggestion.reindex(pd.Index(table["customer_id"], name="customer_id"))
    pd.testing.assert_series_equal(table["next_best_category"], expected.reset_index(drop=True),
                                   check_names=False)
    assert table["customer_id"].dtype == customers.index.astype(str).dtype


def test_activation_files_one_per_segment(tmp_path, smap):
    customers = _customers(smap)
    table = activation_table(customers, smap, max_discount=pd.Series(1.0, index=customers.index),
                             next_category=pd.Series(["tops", "trousers", None, "shoes"], index=customers.index))
    folder = tmp_path / "activation"
    folder.mkdir()
    (folder / "old_segment.csv").write_text("stale", encoding="utf-8")
    paths = write_activation_files(folder, table, smap)
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{k}.csv" for k in smap.keys)
    champions = pd.read_csv(paths["champions"], dtype={"customer_id": str})
    assert len(champions) == 2 and set(champions["segment"]) == {"champions"}
    assert set(champions["next_best_category"]) == {"tops", "trousers"}
    text = "".join(p.read_text(encoding="utf-8") for p in folder.iterdir())
    assert not re.search(r"\b00(042|007|100|003)\b", text)  # raw ids never written by default
    empty = pd.read_csv(paths["new"])
    assert empty.empty and list(empty.columns) == ACTIVATION_COLUMNS
    key, _ = resolve_key(None)
    assert pseudonymise(pd.Series(["00007"]), key).iloc[0] in champions["customer_id"].tolist()


# ---------------------------------------------------------------------- languages

CJK = re.compile(r"[\u4e00-\u9fff]")


def _texts(library):
    """Every text of a library with where it comes from."""
    for key, play in library.playbooks.items():
        for name in ("objective", "trigger", "timing"):
            yield f"{key}.{name}", getattr(play, name)
        for name in ("actions", "channels", "kpis", "avoid"):
            for i, item in enumerate(getattr(play, name)):
                yield f"{key}.{name}[{i}]", item
        if play.offer.note:
            yield f"{key}.offer.note", play.offer.note
    for view, plays in library.tiers.items():
        for key, play in plays.items():
            yield f"tiers.{view}.{key}.objective", play.objective
            for i, item in enumerate(play.actions):
                yield f"tiers.{view}.{key}.actions[{i}]", item


def test_default_library_is_written_in_chinese_too(smap):
    english = load_action_library(DEFAULT_LIBRARY, smap)
    chinese = english.localised("zh-CN")
    assert chinese.language == "zh-CN" and chinese.localised("en") is english
    en_texts, zh_texts = dict(_texts(english)), dict(_texts(chinese))
    assert set(en_texts) <= set(zh_texts) and len(en_texts) > 150
    for where, text in zh_texts.items():
        assert CJK.search(text), where
        assert not CJK.search(en_texts.get(where, "")), where
    assert CJK.search(chinese.name) and CJK.search(chinese.description)
    for key in smap.keys:  # the numbers are the same in every language
        en_offer, zh_offer = english[key].offer, chinese[key].offer
        assert (en_offer.max_depth, en_offer.clv_share, en_offer.offers) == (
            zh_offer.max_depth, zh_offer.clv_share, zh_offer.offers)
        assert bool(en_offer.note) == bool(zh_offer.note)
    assert english["new"].objective == "Secure the second purchase."
    assert english["champions"].channels[0] == "personal advisor (WeChat 1:1 or phone)"


def test_library_texts_per_language_with_fallback(tmp_path, smap):
    def edit(raw):
        champions = raw["segments"]["champions"]
        champions["objective"] = "One text for every language."
        champions["actions"] = {"en": ["Call them."], "zh-CN": ["打电话。", "发消息。"]}
        champions["kpis"] = {"en": ["Repeat rate"]}  # Chinese falls back to English
        champions["offer"]["note"] = {"zh": "只写了中文。"}
        raw["tiers"]["clv"]["growing"]["actions"] = "升级路径"  # one text is a list of one

    english = load_action_library(_mutated(tmp_path, edit), smap)
    chinese = english.localised("zh-CN")
    assert english["champions"].objective == chinese["champions"].objective == "One text for every language."
    assert english["champions"].actions == ("Call them.",) and chinese["champions"].actions == ("打电话。", "发消息。")
    assert chinese["champions"].kpis == ("Repeat rate",)
    assert english["champions"].offer.note == chinese["champions"].offer.note == "只写了中文。"
    assert english.tiers["clv"]["growing"].actions == ("升级路径",)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda raw: raw["segments"]["loyal"].update(objective={"fr": "x"}),
         "segments.loyal.objective.fr = 'x': unknown language; use en, zh-CN"),
        (lambda raw: raw["segments"]["loyal"].update(actions={"en": [], "zh-CN": ["做"]}),
         "segments.loyal.actions.en = []: expected a non-empty list of text"),
        (lambda raw: raw["segments"]["loyal"]["offer"].update(note={"zh-CN": 3}),
         "segments.loyal.offer.note.zh-CN = 3: expected non-empty text"),
        (lambda raw: raw["tiers"]["clv"]["growing"].update(objective={}),
         "tiers.clv.growing.objective = {}: the mapping of languages is empty"),
    ],
)
def test_language_mistakes_are_config_errors_naming_file_and_field(tmp_path, smap, edit, expected):
    with pytest.raises(ConfigError, match=re.escape(expected)) as err:
        load_action_library(_mutated(tmp_path, edit), smap)
    assert "my_actions.yaml" in str(err.value)


def test_activation_segment_label_in_the_page_language(smap):
    customers = _customers(smap)
    discount = pd.Series(1.0, index=customers.index)
    zh = activation_table(customers, smap, max_discount=discount, id_key="k", language="zh-CN")
    assert zh["segment_label"].tolist() == ["重要价值客户", "重要价值客户", "稳定老客", "长期未购客户"]
    assert zh["segment"].tolist() == ["champions", "champions", "loyal", "hibernating"]  # codes stay
    assert list(zh.columns) == ACTIVATION_COLUMNS
    same = activation_table(customers, smap.localised("zh-CN"), max_discount=discount, id_key="k")
    assert same["segment_label"].tolist() == zh["segment_label"].tolist()


def test_page_preview_shows_the_first_rows_of_the_segment(smap):
    """A segment page previews the first activation rows of its segment, found by position."""
    from types import SimpleNamespace

    from helpers.studies.segments.pages import PREVIEW_ROWS, _preview

    customers = pd.concat([_customers(smap)] * 5).set_axis(pd.Index([f"{i:05d}" for i in range(20)], name="customer_id"))
    table = activation_table(customers, smap, max_discount=pd.Series(1.0, index=customers.index), allow_raw_ids=True)
    study = SimpleNamespace(activation=table)
    for key, expected_rows in (("champions", PREVIEW_ROWS), ("loyal", 5), ("new", 0)):
        _, rows = _preview(study, key, "$")
        first = table[table["segment"] == key].head(PREVIEW_ROWS)
        assert len(rows) == min(expected_rows, len(first)) and [r[0] for r in rows] == first["customer_id"].tolist()
