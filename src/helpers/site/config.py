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

The file is the pydantic model :class:`PlaybooksFile` (its JSON schema:
``python -m helpers schema playbooks``). Rules (all checked when the file is loaded,
each problem a one-line :class:`ConfigError` naming the file, the key path and the value):

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
from typing import Annotated, Any

import yaml
from pydantic import AfterValidator, Field, StringConstraints, model_validator

from helpers.errors import ConfigError, ConfigModel, validate_config
from helpers.files import read_yaml
from helpers.report.i18n import Text, in_language

DEFAULT_CONFIG = Path("playbooks") / "playbooks.yaml"

#: Shown as the data source of a page whose ``data_path`` parameter is empty or absent.
EMBEDDED_DATA_SOURCE = (
    "CDNOW master transaction log: real data (US online CD store), 1997-01-01 to 1998-06-30, 23,570 customers; "
    "shipped inside lifetimes 0.11.3"
)

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
    """What the page header names as its data: ``data_path`` (else ``data_dir``) when given
    and non-empty, else the embedded CDNOW data. ``parameters`` are the page's effective parameters
    (config values over notebook defaults)."""
    value = parameters.get("data_path") or parameters.get("data_dir")  # a file, or a folder of tables
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
    expected_seconds: float | None = None  #: the config's hint for a page that never ran (see build.schedule)

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


# ------------------------------------------------------------------------ model of the file


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


def _lang(value: str) -> str:
    if not _LANG_RE.match(value):
        raise ValueError("lang must be a language tag such as 'en' or 'zh-CN'")
    return value


def _name(value: str) -> str:
    if not _NAME_RE.match(value):
        raise ValueError("a name may only use letters, digits, '-' and '_' (it becomes part of the page's file name)")
    return value


def _parameters(raw: dict) -> dict:
    out = {}
    for key, value in raw.items():
        if not key.isidentifier() or keyword.iskeyword(key):
            raise ValueError(f"parameter name {key!r} is not a Python variable name")
        try:
            out[key] = _typed(value, key)
        except ConfigError as err:
            raise ValueError(str(err)) from None
    return out


def _extra_pages(value: str) -> str:
    path = PurePosixPath(value.strip().replace("\\", "/"))
    if not value.strip() or path.is_absolute() or ".." in path.parts:
        raise ValueError("'extra_pages' must be a folder inside the page's output_dir (relative, no '..')")
    return path.as_posix()


def _downloads(values: list[str]) -> list[str]:
    for value in values:
        path = PurePosixPath(value.strip().replace("\\", "/"))
        if not value.strip() or path.is_absolute() or ".." in path.parts:
            raise ValueError(f"'downloads' {value!r} must be a CSV file pattern inside the page's output_dir (relative, no '..')")
    return [v.strip() for v in values]


def _unique(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("'languages' lists a language twice")
    return values


NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Lang = Annotated[str, AfterValidator(_lang)]
Name = Annotated[str, AfterValidator(_name)]
Parameters = Annotated[dict[str, Any], AfterValidator(_parameters)]
ExtraPages = Annotated[str, AfterValidator(_extra_pages)]
Languages = Annotated[list[Lang], Field(min_length=1), AfterValidator(_unique)]
Downloads = Annotated[list[str], AfterValidator(_downloads)]


class _PageFields(ConfigModel):
    """What a study, a variant and a flat-form page may each set."""

    name: Name
    title: Text | None = None  #: text or {en: ..., zh-CN: ...}
    notebook: NonEmpty | None = None  #: .ipynb path relative to the repo root
    parameters: Parameters | None = None  #: notebook parameters; text may use {study}, {variant}, {page}, {lang}
    lang: Lang | None = None  #: one page language
    languages: Languages | None = None  #: several page languages, one page each
    extra_pages: ExtraPages | None = None  #: folder (relative to output_dir) of pages the notebook writes
    downloads: Downloads | None = None  #: CSV files (globs relative to output_dir) the page mentions
    #: rough seconds all language versions of one page take together; orders a build that has no
    #: earlier run times to go by (a fresh clone), longest first, so no long page starts last
    expected_seconds: Annotated[float, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _one_language_key(self) -> "_PageFields":
        if self.lang is not None and self.languages is not None:
            raise ValueError("set either 'lang' (one language) or 'languages' (a list), not both")
        return self

    @property
    def langs(self) -> list[str] | None:
        return self.languages or ([self.lang] if self.lang else None)


class VariantEntry(_PageFields):
    """One parameter set of a study."""


class StudyEntry(_PageFields):
    """One study: a question asked of one or more parameter sets (variants)."""

    title: Text
    description: Text | None = None
    variants: Annotated[list[VariantEntry], Field(min_length=1)] | None = None
    parallel: bool = True  #: false runs the study's pages one after another


class PageEntry(_PageFields):
    """A page of the older flat form ``pages: [...]``: a one-page study."""

    title: Text
    notebook: NonEmpty


class PlaybooksFile(ConfigModel):
    """``playbooks/playbooks.yaml``: the studies that become pages of the site."""

    output: NonEmpty  #: the site folder, e.g. playbooks/site
    build: NonEmpty  #: executed notebooks and the run cache, e.g. build
    title: Text = "Playbooks"
    lang: Lang = "en"  #: default page language and the index's language
    studies: Annotated[list[StudyEntry], Field(min_length=1)] | None = None
    pages: Annotated[list[PageEntry], Field(min_length=1)] | None = None
    #: the one generated business every page runs on (checked by helpers.site.data.parse_data_spec)
    data: dict[str, Any] | None = None
    #: business definitions shared by every page (names: DEFINITION_PARAMETERS)
    definitions: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _studies_or_pages(cls, data: Any) -> Any:
        if isinstance(data, dict) and "studies" in data and "pages" in data:
            raise ValueError("use 'studies' (or the older 'pages'), not both")
        if isinstance(data, dict) and "studies" not in data and "pages" not in data:
            raise ValueError("'studies' is missing: list at least one study")
        return data


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


def _notebook(root: Path, value: str, where: str) -> Path:
    notebook = _resolve(root, value)
    if notebook.suffix != ".ipynb":
        raise ConfigError(f"{where}: notebook {value!r} is not an .ipynb file")
    if not notebook.is_file():
        raise ConfigError(f"{where}: notebook not found: {value} (looked for {notebook})")
    return notebook


def _study_pages(
    study: StudyEntry | PageEntry, where: str, root: Path, default_lang: str, data_folder: str | None = None
) -> tuple[Study, list[tuple[Page, str]]]:
    """The pages of one study entry, each with the ``where`` of its variant."""
    name = study.name
    study_params = study.parameters or {}
    if isinstance(study, PageEntry) or study.variants is None:
        variant_entries: list[tuple[_PageFields, str, str | None]] = [(study, where, None)]
    else:
        variant_entries = [(v, f"{where}: variants[{j}] ({v.name})", v.name) for j, v in enumerate(study.variants)]

    pages: list[tuple[Page, str]] = []
    seen_variants: set[str] = set()
    for entry, vwhere, vname in variant_entries:
        if vname is not None:
            if vname in seen_variants:
                raise ConfigError(f"{vwhere}: variant name '{vname}' is used twice in study '{name}'")
            seen_variants.add(vname)
        notebook_value = entry.notebook or study.notebook
        if notebook_value is None:
            raise ConfigError(f"{vwhere}: 'notebook' is missing (set it on the study or on the variant)")
        notebook = _notebook(root, notebook_value, vwhere)
        params = {**study_params, **((entry.parameters or {}) if vname is not None else {})}
        langs = (entry.langs if vname is not None else None) or study.langs
        explicit = langs is not None
        langs = langs or [default_lang]
        if "language" in params:
            if not explicit:
                try:
                    langs = [_lang(params["language"])]
                except (ValueError, TypeError):
                    raise ConfigError(
                        f"{vwhere}: parameters.language = {params['language']!r}: "
                        "lang must be a language tag such as 'en' or 'zh-CN'"
                    ) from None
            elif langs != [params["language"]]:
                raise ConfigError(
                    f"{vwhere}: parameters.language is {params['language']!r} but the page language is "
                    f"{', '.join(langs)}; set 'lang'/'languages' only (the build passes it to the notebook)"
                )
        extra = entry.extra_pages if vname is not None and "extra_pages" in entry.model_fields_set else study.extra_pages
        vtitle = entry.title if vname is not None else None
        downloads = (
            tuple(entry.downloads or ()) if vname is not None and "downloads" in entry.model_fields_set
            else tuple(getattr(study, "downloads", None) or ())
        )
        expected = entry.expected_seconds if vname is not None and entry.expected_seconds is not None else study.expected_seconds
        base = name if vname is None else f"{name}-{vname}"
        for k, lang in enumerate(langs):
            page_name = base if k == 0 else f"{base}-{lang}"
            s_title = in_language(study.title, lang)
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
                        expected_seconds=expected,
                    ),
                    vwhere,
                )
            )
    result = Study(
        name=name,
        title=in_language(study.title, default_lang),
        pages=tuple(p for p, _ in pages),
        description=in_language(getattr(study, "description", None), default_lang),
        parallel=getattr(study, "parallel", True),
        description_text=getattr(study, "description", None),
    )
    return result, pages


def load_config(path: Path | None = None) -> Config:
    """Read and validate the config (:class:`PlaybooksFile`); every problem is a one-line
    :class:`ConfigError` naming the file, the key path and the value. ``path`` default:
    :func:`find_config`."""
    path = Path(path) if path is not None else find_config()
    shown = shown_path(path)
    raw = read_yaml(path, "config file", shown)
    model: PlaybooksFile = validate_config(PlaybooksFile, raw, shown)

    path = path.resolve()
    root = path.parent.parent
    lang = model.lang
    title = in_language(model.title, lang)
    key = "studies" if model.studies is not None else "pages"
    entries = model.studies if model.studies is not None else model.pages

    data = None
    if model.data is not None:
        from helpers.site.data import parse_data_spec

        data = parse_data_spec(model.data, f"{shown}: data")
    definitions = _definitions(model.definitions, f"{shown}: definitions")

    studies: list[Study] = []
    pages: list[Page] = []
    page_where: dict[str, str] = {}
    study_where: dict[str, str] = {}
    for i, entry in enumerate(entries):
        where = f"{shown}: {key}[{i}] ({entry.name})"
        name = entry.name
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
        output=_resolve(root, model.output),
        build=_resolve(root, model.build),
        pages=tuple(pages),
        title=title,
        lang=lang,
        studies=tuple(studies),
        title_text=model.title,
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
