"""Publishing a page's lists as downloads: the quick paths give what the plain ones gave."""

from __future__ import annotations

import html as html_lib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.site import downloads
from helpers.site.downloads import (
    link_mentions,
    publish_csv,
    publish_csv_kept,
    spreadsheet_safe,
)


def reference_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """spreadsheet_safe as first written: every test on every cell."""
    out = frame.copy()
    for col in out.columns:
        values = out[col].astype(str)
        risky = values.str.contains(downloads._DANGEROUS, regex=True) & ~values.str.fullmatch(downloads._NUMBER)
        out[col] = values.where(~risky, "'" + values)
    return out


def reference_links(html: str, mentions: dict[str, str]) -> str:
    """link_mentions as first written: both patterns for every mention."""
    for shown, href in sorted(mentions.items(), key=lambda kv: -len(kv[0])):
        esc = html_lib.escape(shown, quote=False)
        link = f'<a class="download" href="{html_lib.escape(href)}" download>{html_lib.escape(Path(shown).name)}</a>'
        html = re.sub(r"<code>\s*" + re.escape(esc) + r"\s*</code>", link, html)
        html = re.sub(r"(?<![\w/.\"'=-])" + re.escape(esc) + r"(?![\w/]|\.\w)", link, html)
    return html


FRAMES = {
    "mixed": pd.DataFrame({
        "id": ["C-1", "=1+1", "+86 138", "@x", "\tTab", "\rcr", "", None],
        "amount": ["-12.5", "-1e3", "+.5", "-", "-1,234.50", "12", "-x", np.nan],
        "plain": list("abcdefgh"),
    }, dtype=str),
    "numbers": pd.DataFrame({"n": [-1, 2, -3], "f": [-0.5, np.nan, 1.5]}),
    "one row": pd.DataFrame({"a": ["=SUM(A1)"]}, dtype=str),
    "empty": pd.DataFrame({"a": pd.Series([], dtype=str)}),
    "no columns": pd.DataFrame(index=range(3)),
}


@pytest.mark.parametrize("name", FRAMES)
def test_spreadsheet_safe_matches_testing_every_cell(name):
    frame = FRAMES[name]
    expected = reference_safe(frame)
    got = spreadsheet_safe(frame)
    pd.testing.assert_frame_equal(got, expected)
    assert got.to_csv(index=False) == expected.to_csv(index=False)


def test_random_lists_are_made_safe_as_before():
    rng = np.random.default_rng(7)
    pieces = np.array(["=", "+", "-", "@", "\t", "1", "2.5", "e3", "x", ",", " ", "中", ""])
    cells = ["".join(rng.choice(pieces, size=rng.integers(0, 4))) for _ in range(3000)]
    frame = pd.DataFrame(np.array(cells).reshape(1000, 3), columns=["a", "b", "c"]).astype(str)
    pd.testing.assert_frame_equal(spreadsheet_safe(frame), reference_safe(frame))


def test_link_mentions_matches_trying_every_mention():
    html = (
        "<p>See <code> build/outputs/x/list.csv </code>, build/outputs/x/list.csv. and "
        "build/outputs/x/list.csv2, a/build/outputs/x/list.csv, "
        "<a href=\"build/outputs/x/other.csv\">x</a> build/outputs/x/other.csv</p>"
    )
    mentions = {
        "build/outputs/x/list.csv": "x/files/list.csv",
        "build/outputs/x/other.csv": "x/files/other.csv",
        "outputs/x/list.csv": "x/files/list.csv",
        "build/outputs/x/never.csv": "x/files/never.csv",
        "a&b <c>.csv": "x/files/a.csv",
    }
    assert link_mentions(html, mentions) == reference_links(html, mentions)
    assert link_mentions(html + "<p>a&amp;b &lt;c&gt;.csv</p>", mentions) == reference_links(html + "<p>a&amp;b &lt;c&gt;.csv</p>", mentions)
    assert link_mentions("", mentions) == ""


def test_a_kept_list_is_published_once_and_again_when_its_source_changes(tmp_path, monkeypatch):
    source = tmp_path / "out" / "list.csv"
    source.parent.mkdir()
    source.write_text("id,note\nC-1,=1+1\nC-2,-3\n", encoding="utf-8")
    store = tmp_path / "entry" / "downloads"
    plain = publish_csv(source, tmp_path / "plain.csv").read_bytes()
    calls = []
    real = downloads.publish_csv
    monkeypatch.setattr(downloads, "publish_csv", lambda s, t: calls.append(s) or real(s, t))

    first = publish_csv_kept(source, tmp_path / "site1" / "files" / "list.csv", store)
    second = publish_csv_kept(source, tmp_path / "site2" / "files" / "list.csv", store)
    assert first.read_bytes() == second.read_bytes() == plain and len(calls) == 1

    source.write_text("id,note\nC-1,@home\n", encoding="utf-8")  # the run wrote it again
    third = publish_csv_kept(source, tmp_path / "site3" / "files" / "list.csv", store)
    assert len(calls) == 2 and third.read_bytes() == publish_csv(source, tmp_path / "again.csv").read_bytes()
    assert "'@home" in third.read_text(encoding="utf-8-sig")

    (store / "list.csv.sha256").unlink()  # interrupted while replacing the kept copy
    publish_csv_kept(source, tmp_path / "site4" / "files" / "list.csv", store)
    assert len(calls) == 3
