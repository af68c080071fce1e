"""Loyalty design lab: which loyalty-programme design pays, under what assumptions, how sure.

A strategist writes candidate designs in YAML (``playbooks/designs/*.yaml``); the lab
simulates each on the customer base and compares it with having no programme.

Modules (each documented in its own docstring):

- :mod:`~helpers.studies.loyalty.design`       design files: schema, loading, validation
- :mod:`~helpers.studies.loyalty.assumptions`  behavioural assumptions: defaults, ranges, sources
- :mod:`~helpers.studies.loyalty.base`         the customer base: fitted models, segments, sampling
- :mod:`~helpers.studies.loyalty.posterior`    individual-level posterior draws (BG/NBD, MBG/NBD, Pareto/NBD, Gamma-Gamma)
- :mod:`~helpers.studies.loyalty.engine`       the vectorised month-step simulation and the rules
- :mod:`~helpers.studies.loyalty.results`      ROI with intervals, break-even lift, sensitivity, segments
- :mod:`~helpers.studies.loyalty.figures`, :mod:`~helpers.studies.loyalty.tables`, :mod:`~helpers.studies.loyalty.narrative`  the pages
- :mod:`~helpers.studies.loyalty.pages`        one page per design and the exported files

Typical use (what ``notebooks/loyalty_lab.ipynb`` does)::

    from helpers.studies.loyalty import fit_base, load_designs, run_lab, SimSettings
    base = fit_base(transactions, observation_end="1998-06-30", customers=5000, seed=42)
    lab = run_lab(load_designs(paths), base, SimSettings(horizon_months=12, runs=200, seed=42))
    lab.comparison
"""

from helpers.studies.loyalty.assumptions import SPECS as ASSUMPTIONS
from helpers.studies.loyalty.assumptions import defaults as default_assumptions
from helpers.studies.loyalty.base import (
    CustomerBase,
    base_from_study,
    fit_base,
)
from helpers.studies.loyalty.design import (
    Design,
    design_from_mapping,
    load_design,
    load_designs,
)
from helpers.studies.loyalty.engine import (
    SimResult,
    SimSettings,
    replay,
    simulate,
)
from helpers.studies.loyalty.results import (
    BreakEven,
    DesignResult,
    Lab,
    break_even_lift,
    run_lab,
    sensitivity,
    summarise,
)

__all__ = [
    "ASSUMPTIONS",
    "BreakEven",
    "CustomerBase",
    "Design",
    "DesignResult",
    "Lab",
    "SimResult",
    "SimSettings",
    "base_from_study",
    "break_even_lift",
    "default_assumptions",
    "design_from_mapping",
    "fit_base",
    "load_design",
    "load_designs",
    "replay",
    "run_lab",
    "sensitivity",
    "simulate",
    "summarise",
]
