"""The CDNOW study data shipped inside the installed ``lifetimes`` package.

CDNOW (Fader & Hardie) is the transaction log of a 1997 cohort of an online CD
retailer: 23,570 customers who first bought in Q1 1997, followed to 30 June 1998.
It is the default data of every playbook, so a fresh clone runs without any file.

The files are located with :mod:`importlib.resources` rather than through
``lifetimes.datasets``, whose loader imports ``pkg_resources`` (removed in
setuptools 81).

``read_transactions("cdnow:master")`` and ``read_transactions("cdnow:sample")`` in
:mod:`helpers.data.loading` run these frames through the normal validation (this module
reads files only, so the loader can import it without a cycle).
"""

from __future__ import annotations

from importlib import metadata, resources
from pathlib import Path

import pandas as pd

from helpers.data import columns as C
from helpers.errors import DataError

MASTER_FILE = "CDNOW_master.txt"
SAMPLE_FILE = "CDNOW_sample.txt"


def _lifetimes_version() -> str:
    try:
        return metadata.version("lifetimes")
    except metadata.PackageNotFoundError:
        return "(not installed)"


def default_data_label(language: str = "en") -> str:
    """:data:`DEFAULT_DATA_LABEL` in the page language."""
    from helpers.report.i18n import text

    return text("data.cdnow_label", language, lifetimes=_lifetimes_version())


#: One line describing the default data, for page footers and captions.
DEFAULT_DATA_LABEL = default_data_label("en")


def _embedded_path(name: str) -> Path:
    hint = "Install the project's dependencies (pip install -e .), which include lifetimes==0.11.3."
    try:
        path = Path(str(resources.files("lifetimes") / "datasets" / name))
    except ModuleNotFoundError as exc:
        raise DataError("the lifetimes package is not installed", file=name, hint=hint) from exc
    if not path.is_file():
        raise DataError(
            "the embedded CDNOW file is missing from the installed lifetimes package",
            file=str(path),
            hint=hint,
        )
    return path


def cdnow_master_path() -> Path:
    """Path of ``CDNOW_master.txt`` inside the installed lifetimes package."""
    return _embedded_path(MASTER_FILE)


def cdnow_sample_path() -> Path:
    """Path of ``CDNOW_sample.txt`` inside the installed lifetimes package."""
    return _embedded_path(SAMPLE_FILE)


def _canonical(raw: pd.DataFrame) -> pd.DataFrame:
    """CDNOW columns as canonical ones; the file is known clean, so parsing is strict."""
    return pd.DataFrame(
        {
            C.CUSTOMER_ID: raw["customer_id"].astype(str),
            C.TIMESTAMP: pd.to_datetime(raw["date"], format="%Y%m%d"),
            C.AMOUNT: raw["dollar_value"].astype(float),
            C.QUANTITY: raw["number_of_cds"].astype("int64"),
        }
    )


def load_cdnow_master() -> pd.DataFrame:
    """All 69,659 CDNOW transactions of 23,570 customers (ids as in the file, e.g. "00001")."""
    # dtype=str keeps the zero-padded ids; the file is whitespace-aligned with CRLF ends.
    raw = pd.read_csv(cdnow_master_path(), sep=r"\s+", dtype=str)
    return _canonical(raw)


def load_cdnow_sample() -> pd.DataFrame:
    """The 6,919 transactions of the 2,357-customer CDNOW sample, keyed by the sample's own id."""
    raw = pd.read_csv(
        cdnow_sample_path(),
        sep=r"\s+",
        header=None,
        names=["master_id", "customer_id", "date", "number_of_cds", "dollar_value"],
        dtype=str,
    )
    return _canonical(raw)
