"""Assembling the playbook site: pages, extra pages, navigation, index, manifest, swap.

The site folder holds ``index.html``, one ``<page>.html`` per page, a folder
``<page>/`` with the page's extra pages (when it has any) and ``site.json``, the
manifest: what each page is, when it ran, its headline numbers and whether it is
stale. A build assembles the whole new site in a staging folder next to the output
folder and then swaps it in (:func:`swap_in`): rename the old folder to a backup,
rename the staging folder into place, delete the backup. A build that fails before
the swap leaves the old site as it was, byte for byte.

What goes into the new site, page by page:

- built this run (or rendered from the run cache): rendered anew, status ``ok``;
- failed this run: the previous good version is copied over as it was and marked
  ``stale`` on the index (with when and where the run failed); with no previous
  version, the index lists the page as failed, without a link;
- not selected this run (``--only``): the previous version, as it was;
- files in the old folder that no build wrote (not in its manifest) are kept.
"""

from __future__ import annotations

import datetime as dt
import html as html_lib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from helpers import __version__
from helpers.files import write_text_atomic

MANIFEST = "site.json"
INDEX = "index.html"


def index_name(lang: str, site_lang: str) -> str:
    """The index in ``lang``: ``index.html`` in the site's language, ``index-<lang>.html`` else."""
    return INDEX if not lang or lang == site_lang else f"index-{lang}.html"


_BODY_RE = re.compile(r"<body[^>]*>", re.IGNORECASE)


def with_site_nav(html: str, *, index_href: str, index_label: str, alternates: list[dict], nav_label: str) -> str:
    """``html`` with a small navigation bar right after ``<body>``: back to the index in
    the page's language, and links to the same page in the other languages (extra pages
    such as per-segment and per-design pages are written by notebooks, which do not
    know the site)."""
    esc = html_lib.escape
    links = "".join(
        f'<a href="{esc(a["href"])}" lang="{esc(a["lang"])}" hreflang="{esc(a["lang"])}">{esc(a["label"])}</a>'
        for a in alternates
    )
    bar = (
        f'<nav class="site-nav" aria-label="{esc(nav_label)}"><a class="nav-home" href="{esc(index_href)}">'
        f'{esc(index_label)}</a>' + (f'<span class="nav-langs">{links}</span>' if links else "") + "</nav>"
    )
    match = _BODY_RE.search(html)
    if match is None:
        return bar + html
    return html[: match.end()] + "\n" + bar + html[match.end():]
_TITLE_RE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def read_manifest(output: Path) -> dict[str, dict]:
    """The pages recorded in ``<output>/site.json`` (empty when there is none or it
    cannot be read)."""
    try:
        data = json.loads((Path(output) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    pages = data.get("pages") if isinstance(data, dict) else None
    return {str(k): v for k, v in pages.items() if isinstance(v, dict)} if isinstance(pages, dict) else {}


def write_manifest(folder: Path, pages: Mapping[str, Mapping]) -> Path:
    data = {
        "generator": f"retail-playbooks {__version__}",
        "written": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "pages": dict(pages),
    }
    return write_text_atomic(Path(folder) / MANIFEST, json.dumps(data, indent=1, ensure_ascii=False, default=str) + "\n")


def managed_names(manifest: Mapping[str, Mapping], page_names: Iterable[str]) -> set[str]:
    """Top-level names in a site folder that builds write (everything else is kept)."""
    names = {INDEX, MANIFEST}
    for name in page_names:
        names.update({f"{name}.html", name})
    for name, entry in manifest.items():
        names.update({str(entry.get("file") or f"{name}.html"), name})
    return names


def html_title(path: Path) -> str:
    """The ``<title>`` of an HTML file, else its file name without extension."""
    try:
        head = Path(path).read_text(encoding="utf-8", errors="replace")[:20000]
    except OSError:
        return Path(path).stem
    match = _TITLE_RE.search(head)
    title = html_lib.unescape(re.sub(r"\s+", " ", match.group(1))).strip() if match else ""
    return title or Path(path).stem


def copy_extra_pages(files: Iterable[Path], folder: Path, clean, add_nav=None) -> list[dict]:
    """Copy extra pages into ``folder`` through ``clean`` (the self-contained filter) and
    ``add_nav(html, file_name)`` (the site navigation bar) when given; returns
    ``[{"title", "file"}]`` with file names relative to the site."""
    folder = Path(folder)
    entries = []
    for path in sorted(files, key=lambda p: Path(p).name):
        text = clean(Path(path).read_text(encoding="utf-8", errors="replace"))
        if add_nav is not None:
            text = add_nav(text, Path(path).name)
        target = write_text_atomic(folder / Path(path).name, text)
        entries.append({"title": html_title(target), "file": f"{folder.name}/{target.name}"})
    return entries


def copy_previous(old_output: Path, staging: Path, name: str, entry: Mapping | None) -> bool:
    """Copy page ``name`` (HTML and extra pages folder) from the old site into the
    staging folder as it was. False when the old site has no such page."""
    file = str((entry or {}).get("file") or f"{name}.html")
    source = Path(old_output) / file
    if not source.is_file():
        return False
    shutil.copy2(source, Path(staging) / file)
    extra = Path(old_output) / name
    if extra.is_dir():
        shutil.copytree(extra, Path(staging) / name, dirs_exist_ok=True)
    return True


def carry_over_unmanaged(old_output: Path, staging: Path, managed: set[str]) -> None:
    """Keep files in the old site folder that no build wrote."""
    old_output = Path(old_output)
    if not old_output.is_dir():
        return
    for item in old_output.iterdir():
        if item.name in managed or (Path(staging) / item.name).exists():
            continue
        if item.is_dir() and not item.is_symlink():
            shutil.copytree(item, Path(staging) / item.name, symlinks=True)
        else:
            shutil.copy2(item, Path(staging) / item.name, follow_symlinks=False)


def make_staging(output: Path) -> Path:
    """A fresh staging folder next to ``output`` (same file system, so the swap is a
    rename), with the permissions a normal new folder gets."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}-staging-", dir=output.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(staging, 0o777 & ~umask)
    return staging


def swap_in(staging: Path, output: Path) -> None:
    """Replace ``output`` by ``staging``: rename the old folder to a backup, rename
    staging into place, delete the backup. If the second rename fails the backup is
    renamed back, so the old site stays."""
    staging, output = Path(staging), Path(output)
    if not output.exists():
        os.replace(staging, output)
        return
    backup = Path(tempfile.mkdtemp(prefix=f".{output.name}-old-", dir=output.parent))
    os.rmdir(backup)
    os.replace(output, backup)
    try:
        os.replace(staging, output)
    except BaseException:
        os.replace(backup, output)
        raise
    shutil.rmtree(backup, ignore_errors=True)


def recover(output: Path, *, older_than_s: float = 3600) -> None:
    """Clean up after a build that was killed: when the site folder is missing but a
    backup exists (killed between the two renames of :func:`swap_in`), put the newest
    backup back; remove staging and backup folders older than ``older_than_s``."""
    output = Path(output)
    if not output.parent.is_dir():
        return
    leftovers = [
        p for p in output.parent.glob(f".{output.name}-*") if p.is_dir() and re.match(rf"^\.{re.escape(output.name)}-(staging|old)-", p.name)
    ]
    backups = sorted((p for p in leftovers if "-old-" in p.name), key=lambda p: p.stat().st_mtime)
    if not output.exists() and backups:
        os.replace(backups[-1], output)
        leftovers.remove(backups[-1])
    now = time.time()
    for path in leftovers:
        try:
            if now - path.stat().st_mtime > older_than_s:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass


def short_time(iso: str | None) -> str:
    """``2026-05-09 15:35`` (local time) from an ISO timestamp; "" when missing."""
    if not iso:
        return ""
    try:
        moment = dt.datetime.fromisoformat(str(iso).replace("Z", "+00:00"))
    except ValueError:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return f"{moment.astimezone():%Y-%m-%d %H:%M}"


def write_index(
    folder: Path,
    *,
    title: str,
    lang: str,
    studies: list[dict],
    file_name: str = INDEX,
    alternates: list[dict] | None = None,
) -> Path:
    """Write ``<folder>/<file_name>`` (``index.html``). ``studies``: ``[{name, title, description,
    rows: [{title, headline, extra, data, versions: [{lang, label, href, status, error,
    updated, failed_at}]}]}]`` as assembled by :func:`helpers.site.build.build`;
    ``alternates``: ``[{label, href, lang}]``, the index in the other languages."""
    import jinja2
    from markupsafe import Markup

    from helpers.report.page import CSS_PATH, TEMPLATES_DIR, chrome_labels

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR / "site")),
        autoescape=True,
        keep_trailing_newline=True,
    )
    labels = chrome_labels(lang)
    now = dt.datetime.now().astimezone()
    text = env.get_template("index.html.j2").render(
        title=title,
        lang=lang,
        t=labels,
        css=Markup(CSS_PATH.read_text(encoding="utf-8")),  # noqa: S704 - our own stylesheet
        studies=studies,
        alternates=alternates or [],
        package_version=__version__,
        written_line=labels["index_written"].format(written=f"{now:%Y-%m-%d %H:%M}", version=__version__),
    )
    return write_text_atomic(Path(folder) / file_name, text)


def page_nav(page, available: Mapping[str, Any], pages: list, language_name, site_lang: str | None = None) -> dict:
    """Navigation of ``page`` among the ``available`` pages (those in the new site):
    the index, the other pages of its study in its language, its translations, and
    previous / next among the pages in its language."""
    href = lambda p: f"{p.name}.html"  # noqa: E731
    present = [p for p in pages if p.name in available]
    same_lang = [p for p in present if p.lang == page.lang]
    siblings = [
        {"title": p.short_title, "href": href(p), "current": p.name == page.name}
        for p in same_lang
        if p.study_name == page.study_name
    ]
    alternates = [
        {"label": language_name(p.lang), "href": href(p), "lang": p.lang}
        for p in present
        if p.group == page.group and p.name != page.name
    ]
    order = [p.name for p in same_lang]
    prev = nxt = None
    if page.name in order:
        i = order.index(page.name)
        if i > 0:
            prev = {"title": same_lang[i - 1].title, "href": href(same_lang[i - 1])}
        if i + 1 < len(same_lang):
            nxt = {"title": same_lang[i + 1].title, "href": href(same_lang[i + 1])}
    return {
        "index": index_name(page.lang, site_lang) if site_lang else INDEX,
        "study": page.study_title if page.variant else "",
        "siblings": siblings,
        "alternates": alternates,
        "prev": prev,
        "next": nxt,
    }
