"""One segmentation study from transactions and a CLV study: what ``notebooks/segments.ipynb`` shows.

The notebook calls :func:`run_segment_study` and displays the fields of the result, so
every number on the overview page and on the per-segment pages comes from here. With
``language="zh-CN"`` the segment map, the action library and the name columns of the
summaries and activation lists (``label``, ``segment_label``) are in Chinese; codes,
column names and numbers are the same in every language.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from helpers import __version__
from helpers.data.columns import CUSTOMER_ID
from helpers.files import write_bytes_atomic, write_text_atomic
from helpers.models.memory import release_free_memory
from helpers.report.exports import csv_bytes_by, csv_text, json_safe
from helpers.report.i18n import DEFAULT_LANGUAGE, normalise_language
from helpers.studies.clv.study import ClvStudy
from helpers.studies.clv.uncertainty import DEFAULT_LEVEL, clv_uncertainty
from helpers.studies.segments import actions as act
from helpers.studies.segments import analysis as seg
from helpers.studies.segments import recommend

SUMMARY_CSV = "segment_summary.csv"
CUSTOMERS_CSV = "customer_segments.csv"
MIGRATION_CSV = "segment_migration.csv"
METRICS_JSON = "segment_metrics.json"
ACTIVATION_DIR = "activation"
PAGES_DIR = "pages"


@dataclass
class SegmentStudy:
    """Everything the segments pages report."""

    as_of: str
    migration_from: str
    settings: seg.SegmentSettings
    segment_map: seg.SegmentMap
    library: act.ActionLibrary
    gross_margin: float
    customers: pd.DataFrame  # one row per customer: RFM, scores, segment, CLV, tiers
    summary: pd.DataFrame  # by map segment, in map order
    tiers: dict[str, pd.DataFrame]  # view -> summary by tier
    guardrails: dict[str, act.Guardrail]
    max_discount: pd.Series
    migration: pd.DataFrame  # customers by segment at migration_from (rows) and as_of (columns)
    suggestions: pd.DataFrame | None  # next-best category per customer; None without categories
    pairs: pd.DataFrame | None  # category pairs with lift; None without categories
    activation: pd.DataFrame  # every customer as a CRM row (ids already pseudonymised unless allowed)
    metrics: dict
    language: str = DEFAULT_LANGUAGE  # of the map, library and name columns


def segment_value_intervals(
    summary: pd.DataFrame, customers: pd.DataFrame, clv_study: ClvStudy, *, draws: int | None = None, seed: int = 0
) -> pd.DataFrame:
    """``summary`` with ``clv_low``/``clv_high``: each segment's CLV interval from parameter
    draws (see :mod:`helpers.studies.clv.uncertainty`).

    ``draws=None`` follows the CLV study: its draws, seed and level (the same intervals as
    the CLV page), and ``summary`` unchanged when it has no intervals. A number of draws
    computes them here with ``seed`` at the default level, also when the CLV study skipped
    its own: the segments notebook does so (``run_clv_study(draws=0)``), since it shows no
    per-customer interval and the draws over every customer then run once, not twice.
    """
    u = clv_study.uncertainty
    if draws is None:
        if u is None:
            return summary
        draws, level, seed = u.draws, u.level, u.seed
    else:
        level = DEFAULT_LEVEL
    if draws <= 0:
        return summary
    cs = clv_study
    groups = segments_in_order(customers["segment"], cs.table.index)
    result = clv_uncertainty(cs.table, cs.purchase_model, cs.spend_model, cs.settings, draws=draws,
                             level=level, seed=seed, groups=groups, customer_bounds=False)
    out = summary.copy()
    out["clv_low"] = result.groups["low"].reindex(out.index).fillna(0.0)
    out["clv_high"] = result.groups["high"].reindex(out.index).fillna(0.0)
    return out


def segments_in_order(segment: pd.Series, index: pd.Index) -> pd.Series:
    """``segment.astype(str).reindex(index)`` with ``index`` itself as the index (the draws
    then find their customers' order unchanged), by position: no lookup table on either
    million-id index, and no text per customer. A categorical whose categories are the names
    in text order, so that it factorises to the same codes as the names."""
    labels = segment.array if isinstance(segment.dtype, pd.CategoricalDtype) else pd.Categorical(segment.astype(str))
    labels = labels.rename_categories(labels.categories.astype(str))
    # names in text order, as factorising the names would number them: the draws take their
    # groups' order from these codes, and the sums' last bits may follow it
    labels = labels.reorder_categories(labels.categories.sort_values())
    rows = seg.id_positions(index, segment.index)
    codes = np.where(rows >= 0, labels.codes[rows], -1)
    return pd.Series(pd.Categorical.from_codes(codes, dtype=labels.dtype), index=index, name="segment")


def run_segment_study(
    transactions: pd.DataFrame,
    clv_study: ClvStudy,
    segment_map: seg.SegmentMap,
    library: act.ActionLibrary,
    *,
    settings: seg.SegmentSettings | None = None,
    migration_from: str = "",
    min_pair_customers: int = recommend.MIN_PAIR_CUSTOMERS,
    allow_raw_ids: bool = False,
    id_key: str | None = None,
    language: str = DEFAULT_LANGUAGE,
    interval_draws: int | None = None,
) -> SegmentStudy:
    """Score and segment every customer at the CLV study's observation end, compare with
    ``migration_from`` (default: six months earlier), bound offers, suggest categories.
    Names (segments, tiers, playbook texts) are in ``language``. ``interval_draws``: see
    :func:`segment_value_intervals` (``None``: the CLV study's intervals, if any)."""
    settings = settings or seg.SegmentSettings()
    language = normalise_language(language)
    segment_map = segment_map.localised(language)
    library = library.localised(language)
    as_of = clv_study.settings.observation_end
    start = migration_from or seg.default_migration_start(as_of)
    start, as_of = seg.check_migration_dates(start, as_of)
    gross_margin = clv_study.settings.gross_margin

    release_free_memory()  # what loading and the CLV study freed, before the per-customer steps
    # Ids coded once: for the purchase days at both dates and for the category incidence.
    codes = seg.customer_codes(transactions[CUSTOMER_ID]) if CUSTOMER_ID in transactions.columns else None
    days = seg.purchase_days_by_customer(transactions, as_of, codes=codes)
    customers = seg.segment_customers(days, clv_study.table, segment_map, as_of, settings)
    # The ids' pseudonyms (HMAC in DuckDB) are made on one thread while the steps below run
    # on numpy, mostly on the other core (at 1M customers, wall time of the study on 2 cores:
    # 6.8-7.4 s after them, 7.2-7.5 s beside them on two DuckDB threads, 5.7-6.4 s on one).
    background = ThreadPoolExecutor(max_workers=1)
    shown_ids = background.submit(act.shown_customer_ids, customers, allow_raw_ids=allow_raw_ids, id_key=id_key,
                                  threads=1)
    background.shutdown(wait=False)  # the pseudonyms still run; the pool takes nothing more
    before = seg.segments_at(days, segment_map, start, settings)
    migration = seg.migration_matrix(before, customers["segment"], segment_map)
    del days, before  # the per-day rows are done with: not held through the draws below

    incidence = recommend.incidence_if_categories(transactions, until=as_of, codes=codes)  # once, for both
    del codes

    summary = seg.segment_summary(customers, segment_map)
    release_free_memory()  # before the draws, the largest working memory of the study
    summary = segment_value_intervals(summary, customers, clv_study, draws=interval_draws)
    release_free_memory()  # the draws' chunks, freed in the heaps of the threads that made them
    suggestions = pairs = None
    if incidence is not None:
        suggestions = recommend.next_best_category(transactions, min_pair_customers=min_pair_customers,
                                                   incidence=incidence)
        pairs = recommend.category_pairs(incidence, min_pair_customers)
        del incidence
    tiers = {view: seg.tier_summary(customers, view, language) for view in seg.TIER_VIEWS}
    guardrails = act.segment_guardrails(summary, library, gross_margin)
    max_discount = act.customer_max_discount(customers, library, gross_margin)
    release_free_memory()  # what the suggestions freed, before every id is pseudonymised
    activation = act.activation_table(
        customers,
        segment_map,
        max_discount=max_discount,
        next_category=suggestions["next_category"] if suggestions is not None else None,
        allow_raw_ids=allow_raw_ids,
        id_key=id_key,
        shown_ids=shown_ids.result(),
    )
    metrics = segment_metrics(
        as_of=as_of, migration_from=start, settings=settings, segment_map=segment_map, library=library,
        summary=summary, tiers=tiers, guardrails=guardrails, migration=migration, clv_study=clv_study,
    )
    return SegmentStudy(
        as_of=as_of,
        migration_from=start,
        settings=settings,
        segment_map=segment_map,
        library=library,
        gross_margin=gross_margin,
        customers=customers,
        summary=summary,
        tiers=tiers,
        guardrails=guardrails,
        max_discount=max_discount,
        migration=migration,
        suggestions=suggestions,
        pairs=pairs,
        activation=activation,
        metrics=metrics,
        language=language,
    )


def segment_metrics(
    *,
    as_of: str,
    migration_from: str,
    settings: seg.SegmentSettings,
    segment_map: seg.SegmentMap,
    library: act.ActionLibrary,
    summary: pd.DataFrame,
    tiers: dict[str, pd.DataFrame],
    guardrails: dict[str, act.Guardrail],
    migration: pd.DataFrame,
    clv_study: ClvStudy,
) -> dict:
    """Headline numbers and the per-segment table, JSON-safe."""
    stayed = sum(int(migration.loc[k, k]) for k in segment_map.keys)
    earlier = int(migration.drop(index=seg.NEW_CUSTOMERS).to_numpy().sum())
    metrics = {
        "package_version": __version__,
        "as_of": as_of,
        "migration_from": migration_from,
        "settings": settings.model_dump(),
        "segment_map": {"path": segment_map.path, "name": segment_map.name, "axes": list(segment_map.axes)},
        "action_library": {"path": library.path, "name": library.name},
        "clv": {
            "model": clv_study.settings.model,
            "horizon_months": clv_study.settings.horizon_months,
            "gross_margin": clv_study.settings.gross_margin,
        },
        "customers": int(summary["customers"].sum()),
        "revenue_total": float(summary["revenue"].sum()),
        "clv_total": float(summary["clv"].sum()),
        "clv_at_risk_total": float(summary["clv_at_risk"].sum()),
        "empty_segments": [k for k in summary.index if summary.loc[k, "customers"] == 0],
        "migration": {
            "earlier_customers": earlier,
            "stayed": stayed,
            "stayed_share": stayed / earlier if earlier else None,
            "new_customers": int(migration.loc[seg.NEW_CUSTOMERS].sum()),
        },
        "segments": [
            {"key": k, **summary.loc[k].to_dict(), "guardrail": asdict(guardrails[k])} for k in summary.index
        ],
        "tiers": {view: frame.reset_index().to_dict(orient="records") for view, frame in tiers.items()},
    }
    return json_safe(metrics)


def write_segment_outputs(output_dir: str | Path, study: SegmentStudy) -> dict[str, Path]:
    """Write the activation CSVs (one per segment), the all-customer CSV, the segment
    summary, the migration matrix and the metrics JSON; return their paths."""
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    release_free_memory()  # what building the activation table freed, before formatting its rows
    # Each customer's row is formatted once, for the all-customer CSV and its segment's list,
    # and written from the formatted rows' buffers (no text of the whole table in between).
    everyone, by_segment = csv_bytes_by(study.activation, "segment", study.segment_map.keys)
    activation = act.write_activation_files(folder / ACTIVATION_DIR, study.activation, study.segment_map,
                                            texts=by_segment)
    paths = {f"activation:{k}": p for k, p in activation.items()}
    paths["customers"] = write_bytes_atomic(folder / CUSTOMERS_CSV, everyone)
    del everyone, by_segment
    summary = study.summary.reset_index()
    paths["summary"] = write_text_atomic(folder / SUMMARY_CSV, csv_text(summary, float_format="%.6g"))
    paths["migration"] = write_text_atomic(folder / MIGRATION_CSV, csv_text(study.migration, index=True))
    paths["metrics"] = write_text_atomic(
        folder / METRICS_JSON, json.dumps(study.metrics, indent=2, ensure_ascii=False)
    )
    return paths
