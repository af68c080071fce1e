"""Helpers for new-retail customer analytics notebooks.

The notebooks under ``notebooks/`` hold narrative only; every computation they show
lives in this package so that it can be tested. Layers, each importing only from the
ones before it (see CONTRIBUTING.md):

- :mod:`helpers.errors`, :mod:`helpers.files`, :mod:`helpers.memo`, :mod:`helpers.data.privacy`:
  user-facing errors, atomic writes and the project folder (``enter_project``), results the
  language versions of a page share in one build kernel, pseudonymised ids
- :mod:`helpers.data`: reading and validating user files, the embedded CDNOW data,
  large-file engines, the seeded generator (``python -m helpers.data.generator``)
- :mod:`helpers.models`: customer summaries, BG/NBD / Pareto/NBD / Gamma-Gamma fits
  (the only ``lifetimes`` calls are in :mod:`helpers.models.lifetimes_adapter`), simulation
- :mod:`helpers.report`: page language and catalogs, formatting, tables, figures, pages
- :mod:`helpers.studies`: one package per study (clv, segments, customer_base,
  omnichannel, service, pilot, loyalty)
- :mod:`helpers.site`: the study config, papermill runs, cache, index and the
  ``python -m helpers build`` and ``python -m helpers run NOTEBOOK -y PARAMS`` commands
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("retail-playbooks")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
