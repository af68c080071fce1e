"""Lists a page mentions, published next to it as downloads.

A study's ``downloads:`` (in ``playbooks/playbooks.yaml``) lists CSV files, as glob
patterns relative to the page's ``output_dir`` (``activation/*.csv``). The build copies
each into ``<page>/files/`` in the site, made safe for a spreadsheet:

- UTF-8 with a byte-order mark, so Excel opens Chinese text correctly;
- formula-injection safe: a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab
  or a carriage return is prefixed with ``'`` (numbers such as ``-12.5`` stay numbers);
- pseudonymised as on the page: the notebooks write customer ids through
  :func:`helpers.data.privacy.display_ids`; the copy keeps them as they are.

:func:`link_mentions` turns a page's mentions of a list's path (``build/outputs/...``)
into links to the copy.
"""

from __future__ import annotations

import html as html_lib
import re
import shutil
from pathlib import Path

import pandas as pd

from helpers.errors import DataError
from helpers.files import write_text_atomic

FOLDER = "files"
_DANGEROUS = r"^[=+\-@\t\r]"
_NUMBER = r"[+-]?(?:\d[\d,]*(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (all text) with formula-like cells prefixed by ``'``."""
    out = frame.copy()
    for col in out.columns:
        values = out[col].astype(str)
        # the number test and the prefixing only where a cell starts like a formula:
        # most columns have none, and a column of negative numbers needs no prefix
        starts = values.str.contains(_DANGEROUS, regex=True).to_numpy(dtype=bool)
        if starts.any():
            risky = starts.copy()
            risky[starts] = ~values[starts].str.fullmatch(_NUMBER).to_numpy(dtype=bool)
            if risky.any():
                values = values.where(~risky, "'" + values)
        out[col] = values
    return out


def publish_csv(source: Path, target: Path) -> Path:
    """Copy the CSV ``source`` to ``target`` as UTF-8 with BOM, formula-injection safe."""
    try:
        frame = pd.read_csv(source, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise DataError(f"{source}: cannot be read as CSV to publish it ({err})") from None
    frame.columns = [("'" + c) if re.match(_DANGEROUS, str(c)) else str(c) for c in frame.columns]
    text = spreadsheet_safe(frame).to_csv(index=False)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(target, "\ufeff" + text)
    return target


def publish_csv_kept(source: Path, target: Path, store: Path) -> Path:
    """:func:`publish_csv` through ``store``, a folder keeping the published copy of each
    source (by name) with the digest of the source it was made from: a rebuild whose run
    came from the cache copies it instead of reading and writing every list again. The
    store belongs to one run cache entry, whose key covers this module's code."""
    from helpers.site.cache import file_digest

    digest = file_digest(source)
    kept, stamp = Path(store) / source.name, Path(store) / f"{source.name}.sha256"
    if not (kept.is_file() and stamp.is_file() and stamp.read_text(encoding="ascii") == digest):
        stamp.unlink(missing_ok=True)  # no stamp while the copy is being replaced
        publish_csv(source, kept)
        write_text_atomic(stamp, digest)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(kept, target)
    return target


def find_downloads(output_dir: Path, patterns: list[str]) -> list[Path]:
    """The files ``patterns`` (globs relative to ``output_dir``) match, sorted, unique."""
    found: dict[str, Path] = {}
    for pattern in patterns:
        for path in sorted(Path(output_dir).glob(pattern)):
            if path.is_file() and path.suffix.lower() == ".csv":
                found.setdefault(path.name, path)
    return list(found.values())


def link_mentions(html: str, mentions: dict[str, str]) -> str:
    """Replace each mention of a path (the key, as the page shows it, possibly inside
    ``<code>``) with a link to its download (the value, a relative href)."""
    for shown, href in sorted(mentions.items(), key=lambda kv: -len(kv[0])):
        esc = html_lib.escape(shown, quote=False)
        if esc not in html:
            continue  # both patterns need it: skip two scans of a page of megabytes
        link = f'<a class="download" href="{html_lib.escape(href)}" download>{html_lib.escape(Path(shown).name)}</a>'
        html = re.sub(r"<code>\s*" + re.escape(esc) + r"\s*</code>", link, html)
        html = re.sub(r"(?<![\w/.\"'=-])" + re.escape(esc) + r"(?![\w/]|\.\w)", link, html)
    return html
