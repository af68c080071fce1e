"""The study config (``playbooks/playbooks.yaml``): studies, their pages, validation.

A **study** is one question asked of one or more parameter sets: the CLV study for the
whole base, or for each region, brand or loyalty design. Each parameter set is a
**variant**; each variant becomes one page per language::

    output: playbooks/site          # the site: HTML pages, index.html, site.json
    build: build                    # executed notebooks, the run cache
    title: Playbooks                # index title (text, or {en: ..., zh-CN: ...})
    lang: en                        # default language of pages and of the index
    studies:
      - name: clv                   # a one-page study: page clv.html
        title: Customer lifetime value
        notebook: notebooks/clv.ipynb
        parameters: {output_dir: build/outputs/clv}
      - name: regions               # one page per variant: regions-north.html, ...
        title: {en: CLV by region, zh-CN: 各地区客户价值}
        notebook: notebooks/clv.ipynb
        languages: [en, zh-CN]      # every variant in both: regions-north.html, regions-north-zh-CN.html
        parameters:                 # shared by every variant (a variant's own win)
          output_dir: build/outputs/{page}
        variants:
          - name: north
            title: {en: North, zh-CN: 北区}
            parameters: {data_path: data/north.csv}
          - name: south
            title: {en: South, zh-CN: 南区}
            parameters: {data_path: data/south.csv}

The older flat form ``pages: [{name, title, notebook, parameters, lang}]`` is still read:
each page is a one-page study.

Rules (all checked when the file is loaded, each problem a :class:`ConfigError`
naming the file and the entry):

- Page names: a study without variants gives one page named like the study; with
  variants, ``<study>-<variant>``. With ``languages: [a, b, ...]`` the first language
  keeps that name and each other gets ``-<lang>`` appended (``clv-zh-CN``). Names are
  letters, digits, ``-`` and ``_``, unique in the site; ``index`` is reserved.
- ``lang`` (one language) or ``languages`` (several) may be set on the study or on a
  variant; the variant's wins. Default: the top-level ``lang``. When the notebook has
  a parameter ``language``, the build passes the page language to it (unless the
  page sets ``parameters.language`` itself, which then must agree with ``lang``).
- Parameters: the study's, then the variant's on top (key by key). String values may
  use ``{study}``, ``{variant}``, ``{page}`` and ``{lang}``, replaced per page, so
  variants can write to their own folders: ``output_dir: build/outputs/{page}``.
- ``notebook`` may be set on the study (default for its variants) or per variant.
- ``extra_pages: <folder>`` (study or variant): a folder, relative to the page's
  ``output_dir`` parameter, of HTML pages the notebook writes (one per segment,
  design...). They are copied into the site next to the page (``<page>/<file>.html``)
  and linked from the index under the page.
- ``parallel: false`` on a study runs its pages one after another (pages that write
  to the same output folder never run at the same time anyway).
- ``data`` (optional, :mod:`helpers.site.data`): one generated dataset every page can
  share, made by the build before any page runs (cached). Parameter text may use
  ``{data}`` for its folder: ``data_path: "{data}/transactions.csv"``.
- ``definitions`` (optional): business definitions shared by every page, e.g.
  ``{new_days: 90, loyal_min_purchases: 4}``; each is passed to every notebook that
  has a parameter for it (:data:`DEFINITION_PARAMETERS`), and a study may not set
  those parameters itself, so one concept has one definition on the whole site.
"""

from __future__ import annotations

import datetime as dt
import keyword
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from helpers.errors import ConfigError

DEFAULT_CONFIG = Path("playbooks") / "playbooks.yaml"

#: Shown as the data source of a page whose ``data_path`` parameter is empty or absent.
EMBEDDED_DATA_SOURCE = (
    "CDNOW master transaction log: real data (US online CD store), 1997-01-01 to 1998-06-30, 23,570 customers; "
    "shipped inside lifetimes 0.11.3"
)

TOP_KEYS = {"output", "build", "studies", "pages", "title", "lang", "data", "definitions"}
STUDY_KEYS = {"name", "title", "description", "notebook", "parameters", "lang", "languages", "variants", "extra_pages", "parallel", "downloads"}
VARIANT_KEYS = {"name", "title", "notebook", "parameters", "lang", "languages", "extra_pages", "downloads"}
PAGE_KEYS = {"name", "title", "notebook", "parameters", "lang", "languages", "extra_pages"}  # the flat form
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_LANG_RE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
_PLACEHOLDER_RE = re.compile(r"\{(study|variant|page|lang|data)\}")

#: Each shared definition (``definitions:`` in the config) and the notebook parameters
#: that take it. A notebook gets the value under every one of these names it declares.
DEFINITION_PARAMETERS: dict[str, tuple[str, ...]] = {
    "observation_end": ("observation_end",),  # the analysis date: last day of data every page uses
    "calibration_end": ("calibration_end",),  # last day the CLV models are validated on (holdout after it)
    "horizon_months": ("horizon_months",),  # months of future value ("next 12 months")
    "gross_margin": ("gross_margin",),
    "annual_discount_rate": ("annual_discount_rate",),
    "currency": ("currency",),
    "returns_policy": ("returns_policy",),
    "new_days": ("new_days", "new_within_days"),  # new: first purchase at most this many days old
    "sleeping_days": ("lapsing_after_days", "sleeping_days"),  # sleeping: no purchase for more than this many days
    "lapsed_days": ("lapsed_days", "churned_after_days"),  # lapsed: no purchase for more than this many days
    "loyal_min_purchases": ("loyal_min_purchases",),  # loyal: at least this many purchase days in the loyalty window
    "loyal_window_days": ("loyal_window_days",),
    "alive_threshold": ("alive_threshold",),  # model-based lapsed: P(alive) below this
}
RESERVED_NAMES = {"index"}


#: Shown as the data source of a page whose ``data_path`` is ``cdnow:sample``.
CDNOW_SAMPLE_SOURCE = (
    "CDNOW 1/10 sample: real data (US online CD store), 1997-01-01 to 1998-06-30, 2,357 customers; "
    "shipped inside lifetimes 0.11.3"
)


def data_source_for(parameters: Mapping[str, Any]) -> str:
    """What the page header names as its data: ``data_path`` when given and non-empty,
    else the embedded CDNOW data. ``parameters`` are the page's effective parameters
    (config values over notebook defaults)."""
    value = parameters.get("data_path")
    if value == "cdnow:sample":
        return CDNOW_SAMPLE_SOURCE
    if value is not None and str(value).strip():
        return str(value)
    return EMBEDDED_DATA_SOURCE


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Page:
    """One page of the site: one notebook run with one parameter set in one language."""

    name: str
    title: str  #: the page's <h1>, in its language
    notebook: Path  #: absolute
    parameters: dict = field(default_factory=dict)
    lang: str = "en"
    study: str = ""  #: the study's name ("" = the page's own name)
    label: str = ""  #: short title inside the study (the variant's title; "" = title)
    variant: str = ""  #: the variant's name; "" for a study without variants
    extra_pages: str | None = None  #: folder relative to the output_dir parameter
    study_title: str = ""  #: the study's title in the page's language ("" = title)
    downloads: tuple = ()  #: CSV globs relative to the output_dir parameter, published next to the page

    @property
    def study_name(self) -> str:
        return self.study or self.name

    @property
    def short_title(self) -> str:
        return self.label or self.title

    @property
    def group(self) -> tuple[str, str]:
        """Pages that are translations of each other share a group."""
        return (self.study_name, self.variant)


@dataclass(frozen=True)
class Study:
    name: str
    title: str  #: in the site's language
    pages: tuple[Page, ...]
    description: str = ""
    parallel: bool = True
    description_text: Any = None  #: the description as written: text or {language: text}


@dataclass(frozen=True)
class Config:
    path: Path  #: the config file, absolute
    root: Path  #: the repo root: the config file's parent's parent
    output: Path  #: absolute
    build: Path  #: absolute
    pages: tuple[Page, ...]
    title: str = "Playbooks"
    lang: str = "en"
    studies: tuple[Study, ...] = ()
    title_text: Any = None  #: the title as written: text or {language: text}
    data: Any = None  #: the shared generated dataset (:class:`helpers.site.data.DataSpec`) or None
    definitions: dict = field(default_factory=dict)  #: shared definitions, by concept name

    def __post_init__(self) -> None:
        if not self.studies and self.pages:  # built by hand from pages only
            studies = tuple(Study(p.study_name, p.title, (p,)) for p in self.pages)
            object.__setattr__(self, "studies", studies)

    def page(self, name: str) -> Page:
        for page in self.pages:
            if page.name == name:
                return page
        raise ConfigError(f"no page named '{name}' in {self.shown}; pages: {', '.join(self.names)}")

    def study(self, name: str) -> Study | None:
        return next((s for s in self.studies if s.name == name), None)

    def select(self, names: Sequence[str]) -> list[Page]:
        """The pages named, in site order: a study name selects all its pages."""
        wanted: set[str] = set()
        for name in names:
            study = self.study(name)
            if study is not None:
                wanted.update(p.name for p in study.pages)
            elif name in self.names:
                wanted.add(name)
            else:
                raise ConfigError(
                    f"no study or page named '{name}' in {self.shown}; studies: "
                    f"{', '.join(s.name for s in self.studies)}; pages: {', '.join(self.names)}"
                )
        return [p for p in self.pages if p.name in wanted]

    def study_of(self, page: Page) -> Study:
        return next(s for s in self.studies if any(p.name == page.name for p in s.pages))

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.pages]

    @property
    def shown(self) -> str:
        return shown_path(self.path)

    def relative(self, path: Path) -> str:
        """``path`` relative to the repo root when it is inside it."""
        try:
            return Path(path).relative_to(self.root).as_posix()
        except ValueError:
            return str(path)


def shown_path(path: Path) -> str:
    """A path relative to the current folder when it is inside it, else absolute."""
    path = Path(path)
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


def find_config(start: Path | None = None) -> Path:
    """``playbooks/playbooks.yaml`` in ``start`` (default: the current folder) or the
    nearest parent folder that has one."""
    start = Path(start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        candidate = folder / DEFAULT_CONFIG
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"no {DEFAULT_CONFIG.as_posix()} in {start} or any folder above it; "
        "run from the repository or pass --config PATH"
    )


# ------------------------------------------------------------------------ checks


def _typed(value: Any, where: str) -> Any:
    """Parameter values papermill can pass on: YAML dates become ISO text."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, list):
        return [_typed(v, where) for v in value]
    if isinstance(value, dict):
        return {str(k): _typed(v, where) for k, v in value.items()}
    raise ConfigError(f"{where}: value {value!r} is a {type(value).__name__}; use text, numbers, true/false, lists or mappings")


def _check_parameter_name(name: Any, where: str) -> str:
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise ConfigError(f"{where}: parameter name {name!r} is not a Python variable name")
    return name


def _resolve(root: Path, value: str) -> Path:
    path = Path(os.path.expanduser(value))
    return path if path.is_absolute() else root / path


def _check_lang(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _LANG_RE.match(value):
        raise ConfigError(f"{where}: lang must be a language tag such as 'en' or 'zh-CN', got {value!r}")
    return value


def _check_keys(entry: Any, allowed: set[str], where: str) -> dict:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a mapping with keys {', '.join(sorted(allowed))}")
    unknown = sorted(set(map(str, entry)) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key {', '.join(map(repr, unknown))} (allowed: {', '.join(sorted(allowed))})")
    return entry


def _text(value: Any, where: str, key: str, *, required: bool = True) -> str | dict[str, str] | None:
    """A title: text, or a mapping of language tag to text."""
    if value is None and not required:
        return None
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, dict) and value and all(isinstance(v, str) and v.strip() for v in value.values()):
        for lang in value:
            _check_lang(lang, f"{where}: {key}")
        return {str(k): v.strip() for k, v in value.items()}
    raise ConfigError(f"{where}: '{key}' is missing or not text (text, or a mapping such as {{en: ..., zh-CN: ...}})")


def in_language(text: str | Mapping[str, str] | None, lang: str) -> str:
    """``text`` in ``lang``: itself when it is plain text; from a ``{lang: text}``
    mapping the exact tag, else one with the same primary language, else the first."""
    if text is None:
        return ""
    if isinstance(text, str):
        return text
    if lang in text:
        return text[lang]
    primary = lang.split("-")[0].lower()
    for key, value in text.items():
        if key.split("-")[0].lower() == primary:
            return value
    return next(iter(text.values()))


def _languages(entry: dict, where: str) -> list[str] | None:
    if "lang" in entry and "languages" in entry:
        raise ConfigError(f"{where}: set either 'lang' (one language) or 'languages' (a list), not both")
    if "languages" in entry:
        langs = entry["languages"]
        if not isinstance(langs, list) or not langs:
            raise ConfigError(f"{where}: 'languages' must be a list such as [en, zh-CN]")
        langs = [_check_lang(v, f"{where}: languages") for v in langs]
        if len(set(langs)) != len(langs):
            raise ConfigError(f"{where}: 'languages' lists a language twice: {langs}")
        return langs
    if "lang" in entry:
        return [_check_lang(entry["lang"], where)]
    return None


def _parameters(raw: Any, where: str) -> dict:
    raw = raw or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: 'parameters' must be a mapping of name: value")
    return {_check_parameter_name(k, f"{where}: parameters"): _typed(v, f"{where}: parameters.{k}") for k, v in raw.items()}


def _extra_pages(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: 'extra_pages' must be a folder path relative to the page's output_dir")
    path = PurePosixPath(value.strip().replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts:
        raise ConfigError(f"{where}: 'extra_pages' {value!r} must be a folder inside the page's output_dir (relative, no '..')")
    return path.as_posix()


def _downloads(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{where}: 'downloads' must be a list of CSV file patterns relative to the page's output_dir")
    for v in value:
        path = PurePosixPath(v.strip().replace("\\", "/"))
        if path.is_absolute() or ".." in path.parts:
            raise ConfigError(f"{where}: 'downloads' {v!r} must be inside the page's output_dir (relative, no '..')")
    return tuple(v.strip() for v in value)


def substitute(value: Any, names: Mapping[str, str]) -> Any:
    """Replace ``{study}``, ``{variant}``, ``{page}``, ``{lang}`` in text values (also
    inside lists and mappings); other braces are left alone."""
    if isinstance(value, str):
        return _PLACEHOLDER_RE.sub(lambda m: names.get(m.group(1), m.group(0)), value)
    if isinstance(value, list):
        return [substitute(v, names) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, names) for k, v in value.items()}
    return value


# ------------------------------------------------------------------------ loading


def _read_yaml(path: Path) -> Any:
    shown = shown_path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {shown}")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(f"{shown}: not valid YAML{at}: {err.problem}") from None
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as err:
        raise ConfigError(f"{shown}: cannot be read: {err}") from None


def _notebook(root: Path, value: Any, where: str) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: 'notebook' is missing or not text")
    notebook = _resolve(root, value)
    if notebook.suffix != ".ipynb":
        raise ConfigError(f"{where}: notebook {value!r} is not an .ipynb file")
    if not notebook.is_file():
        raise ConfigError(f"{where}: notebook not found: {value} (looked for {notebook})")
    return notebook


def _study_pages(
    study: dict, where: str, root: Path, default_lang: str, data_folder: str | None = None
) -> tuple[Study, list[tuple[Page, str]]]:
    """The pages of one study entry, each with the ``where`` of its variant."""
    name = study["name"]
    study_title = study["title"]
    study_params = _parameters(study.get("parameters"), where)
    study_langs = _languages(study, where)
    study_extra = _extra_pages(study.get("extra_pages"), where)
    variants = study.get("variants")
    if variants is None:
        variant_entries = [({}, where, None)]
    else:
        if not isinstance(variants, list) or not variants:
            raise ConfigError(f"{where}: 'variants' must be a list with at least one variant")
        variant_entries = []
        for j, entry in enumerate(variants):
            vwhere = f"{where}: variants[{j}]"
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                vwhere += f" ({entry['name']})"
            _check_keys(entry, VARIANT_KEYS, vwhere)
            vname = entry.get("name")
            if not isinstance(vname, str) or not _NAME_RE.match(vname):
                raise ConfigError(f"{vwhere}: 'name' must be letters, digits, '-' and '_' (it becomes part of the page name)")
            variant_entries.append((entry, vwhere, vname))

    pages: list[tuple[Page, str]] = []
    seen_variants: set[str] = set()
    for entry, vwhere, vname in variant_entries:
        if vname is not None:
            if vname in seen_variants:
                raise ConfigError(f"{vwhere}: variant name '{vname}' is used twice in study '{name}'")
            seen_variants.add(vname)
        notebook_value = entry.get("notebook", study.get("notebook"))
        if notebook_value is None:
            raise ConfigError(f"{vwhere}: 'notebook' is missing (set it on the study or on the variant)")
        notebook = _notebook(root, notebook_value, vwhere)
        params = {**study_params, **_parameters(entry.get("parameters"), vwhere)}
        langs = _languages(entry, vwhere) or study_langs
        explicit = langs is not None
        langs = langs or [default_lang]
        if "language" in params:
            if not explicit:
                langs = [_check_lang(params["language"], f"{vwhere}: parameters.language")]
            elif langs != [params["language"]]:
                raise ConfigError(
                    f"{vwhere}: parameters.language is {params['language']!r} but the page language is "
                    f"{', '.join(langs)}; set 'lang'/'languages' only (the build passes it to the notebook)"
                )
        extra = _extra_pages(entry.get("extra_pages"), vwhere) if "extra_pages" in entry else study_extra
        downloads = _downloads(entry["downloads"], vwhere) if "downloads" in entry else _downloads(study.get("downloads"), where)
        vtitle = _text(entry.get("title"), vwhere, "title", required=False) if vname is not None else None
        base = name if vname is None else f"{name}-{vname}"
        for k, lang in enumerate(langs):
            page_name = base if k == 0 else f"{base}-{lang}"
            s_title = in_language(study_title, lang)
            label = in_language(vtitle, lang) if vtitle is not None else (vname or "")
            title = f"{s_title} — {label}" if vname is not None else s_title
            names = {"study": name, "variant": vname or name, "page": page_name, "lang": lang}
            if data_folder is not None:
                names["data"] = data_folder
            pages.append(
                (
                    Page(
                        name=page_name,
                        title=title,
                        notebook=notebook,
                        parameters=substitute(params, names),
                        lang=lang,
                        study=name,
                        label=label if vname is not None else "",
                        variant=vname or "",
                        extra_pages=extra,
                        study_title=s_title,
                        downloads=downloads,
                    ),
                    vwhere,
                )
            )
    parallel = study.get("parallel", True)
    if not isinstance(parallel, bool):
        raise ConfigError(f"{where}: 'parallel' must be true or false")
    description = study.get("description")
    result = Study(
        name=name,
        title=in_language(study_title, default_lang),
        pages=tuple(p for p, _ in pages),
        description=in_language(_text(description, where, "description", required=False), default_lang),
        parallel=parallel,
        description_text=_text(description, where, "description", required=False),
    )
    return result, pages


def load_config(path: Path | None = None) -> Config:
    """Read and validate the config; every problem is a :class:`ConfigError` naming
    the file and the entry. ``path`` default: :func:`find_config`."""
    path = Path(path) if path is not None else find_config()
    shown = shown_path(path)
    raw = _read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{shown}: expected a mapping with keys {', '.join(sorted(TOP_KEYS))}")
    unknown = sorted(set(map(str, raw)) - TOP_KEYS)
    if unknown:
        raise ConfigError(f"{shown}: unknown key {', '.join(map(repr, unknown))} (allowed: {', '.join(sorted(TOP_KEYS))})")

    path = path.resolve()
    root = path.parent.parent
    for key in ("output", "build"):
        if key not in raw or not isinstance(raw[key], str) or not raw[key].strip():
            raise ConfigError(f"{shown}: '{key}' must be a folder path (e.g. {'playbooks/site' if key == 'output' else 'build'})")
    lang = _check_lang(raw.get("lang", "en"), shown)
    title = in_language(_text(raw.get("title", "Playbooks"), shown, "title"), lang)

    if "studies" in raw and "pages" in raw:
        raise ConfigError(f"{shown}: use 'studies' (or the older 'pages'), not both")
    key = "studies" if "studies" in raw else "pages"
    entries = raw.get(key)
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{shown}: '{key}' must be a list with at least one {key[:-1] if key == 'pages' else 'study'}")

    data = None
    if raw.get("data") is not None:
        from helpers.site.data import parse_data_spec

        data = parse_data_spec(raw["data"], f"{shown}: data")
    definitions = _definitions(raw.get("definitions"), f"{shown}: definitions")

    studies: list[Study] = []
    pages: list[Page] = []
    page_where: dict[str, str] = {}
    study_where: dict[str, str] = {}
    for i, entry in enumerate(entries):
        where = f"{shown}: {key}[{i}]"
        if isinstance(entry, dict) and isinstance(entry.get("name"), str):
            where += f" ({entry['name']})"
        _check_keys(entry, STUDY_KEYS if key == "studies" else PAGE_KEYS, where)
        if not isinstance(entry.get("name"), str) or not entry["name"].strip():
            raise ConfigError(f"{where}: 'name' is missing or not text")
        name = entry["name"]
        entry = {**entry, "title": _text(entry.get("title"), where, "title")}
        if "notebook" not in entry and key == "pages":
            raise ConfigError(f"{where}: 'notebook' is missing or not text")
        if not _NAME_RE.match(name):
            raise ConfigError(f"{where}: name {name!r} may only use letters, digits, '-' and '_' (it becomes the file name)")
        if name in study_where:
            raise ConfigError(f"{where}: {'study' if key == 'studies' else 'page'} name '{name}' is already used by {study_where[name]}")
        study_where[name] = f"{key}[{i}]"
        study, study_pages = _study_pages(entry, where, root, lang, data.folder if data is not None else None)
        if definitions:
            study_pages = [(_with_definitions(p, definitions, pw), pw) for p, pw in study_pages]
            study = replace(study, pages=tuple(p for p, _ in study_pages))
        for page, pwhere in study_pages:
            if page.name in RESERVED_NAMES:
                raise ConfigError(f"{pwhere}: page name '{page.name}' is already used by the site index (index.html)")
            if page.name in page_where:
                raise ConfigError(f"{pwhere}: page name '{page.name}' is already used by {page_where[page.name]}")
            page_where[page.name] = pwhere.removeprefix(f"{shown}: ")
            pages.append(page)
        studies.append(study)
    # a study name that is another study's page name would make --only/--set ambiguous
    for study in studies:
        owner = next((p for p in pages if p.name == study.name and p.study_name != study.name), None)
        if owner is not None:
            raise ConfigError(f"{shown}: study name '{study.name}' is also the name of a page of study '{owner.study_name}'")

    return Config(
        path=path,
        root=root,
        output=_resolve(root, raw["output"]),
        build=_resolve(root, raw["build"]),
        pages=tuple(pages),
        title=title,
        lang=lang,
        studies=tuple(studies),
        title_text=_text(raw.get("title", "Playbooks"), shown, "title"),
        data=data,
        definitions=definitions,
    )


def _definitions(raw: Any, where: str) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a mapping of definition: value, e.g. {{new_days: 90}}")
    unknown = sorted(set(map(str, raw)) - set(DEFINITION_PARAMETERS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown definition {', '.join(map(repr, unknown))} (known: {', '.join(DEFINITION_PARAMETERS)})"
        )
    return {str(k): _typed(v, f"{where}.{k}") for k, v in raw.items()}


def _with_definitions(page: Page, definitions: Mapping[str, Any], where: str) -> Page:
    """``page`` with every shared definition its notebook has a parameter for; a study
    setting such a parameter itself would give the concept a second definition."""
    from helpers.site.run import notebook_parameters

    declared = notebook_parameters(page.notebook) or {}
    params = dict(page.parameters)
    for concept, value in definitions.items():
        for name in DEFINITION_PARAMETERS[concept]:
            if name not in declared:
                continue
            if name in params and params[name] != value:
                raise ConfigError(
                    f"{where}: parameters.{name} ({params[name]!r}) contradicts definitions.{concept} "
                    f"({value!r}); the definitions block defines it once for every page, so remove it here"
                )
            params[name] = value
    return replace(page, parameters=params)


def apply_overrides(config: Config, assignments: Sequence[str]) -> Config:
    """Apply ``--set NAME.PARAM=VALUE`` assignments; NAME is a study (all its pages)
    or a page; VALUE is read as YAML (``42`` -> int, ``true`` -> bool, empty -> None,
    ``a b`` -> text) and may use the ``{page}``-style placeholders."""
    pages = {p.name: p for p in config.pages}
    for text in assignments:
        target, sep, value_text = text.partition("=")
        name, dot, param = target.strip().partition(".")
        if not sep or not dot or not name or not param:
            raise ConfigError(f"--set {text!r}: expected NAME.PARAM=VALUE, e.g. --set clv.output_dir=build/tmp")
        targets = config.select([name])
        _check_parameter_name(param, f"--set {text!r}")
        try:
            value = yaml.safe_load(value_text) if value_text.strip() else None
        except yaml.YAMLError as err:
            raise ConfigError(f"--set {text!r}: value is not valid YAML ({getattr(err, 'problem', err)})") from None
        value = _typed(value, f"--set {text!r}")
        for target_page in targets:
            page = pages[target_page.name]
            names = {"study": page.study_name, "variant": page.variant or page.study_name, "page": page.name, "lang": page.lang}
            if config.data is not None:
                names["data"] = config.data.folder
            pages[page.name] = replace(page, parameters={**page.parameters, param: substitute(value, names)})
    new_pages = tuple(pages[p.name] for p in config.pages)
    studies = tuple(replace(s, pages=tuple(pages[p.name] for p in s.pages)) for s in config.studies)
    return replace(config, pages=new_pages, studies=studies)


def check_parameters(config: Config, page: Page) -> dict[str, Any]:
    """The notebook defaults of ``page`` after checking that every configured
    parameter exists in the notebook (a typo would otherwise be silently ignored)."""
    shown_nb = config.relative(page.notebook)
    from helpers.site.run import notebook_parameters

    defaults = notebook_parameters(page.notebook)
    if defaults is None:
        if page.parameters:
            raise ConfigError(
                f"{shown_nb} has no cell tagged 'parameters', so it cannot take the parameters "
                f"{', '.join(page.parameters)} set for page '{page.name}'"
            )
        return {}
    unknown = [name for name in page.parameters if name not in defaults]
    if unknown:
        raise ConfigError(
            f"{shown_nb} has no parameter {', '.join(map(repr, unknown))} (set for page '{page.name}' "
            f"in {config.shown} or --set); its parameters are: {', '.join(defaults) or 'none'}"
        )
    return defaults


def notebook_arguments(page: Page, defaults: Mapping[str, Any] | None) -> dict[str, Any]:
    """The parameters papermill gets for ``page``: the configured ones, plus
    ``language`` (the page language) when the notebook declares that parameter."""
    params = dict(page.parameters)
    if defaults is not None and "language" in defaults and "language" not in params:
        params["language"] = page.lang
    return params
