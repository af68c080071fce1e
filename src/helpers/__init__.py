"""Helpers for new-retail customer analytics notebooks.

The notebooks under ``notebooks/`` hold narrative only; every computation they show
lives in this package so that it can be tested:

- :mod:`helpers.errors`        user-facing errors (file, column, row, value)
- :mod:`helpers.columns`       column maps, Chinese header aliases
- :mod:`helpers.loading`       reading and validating transaction files
- :mod:`helpers.datasets`      the embedded CDNOW data shipped inside ``lifetimes``
- :mod:`helpers.summary`       transactions to frequency / recency / T / monetary value
- :mod:`helpers.lifetimes_adapter`  the only module that calls ``lifetimes``
- :mod:`helpers.clv`           fitting, holdout validation, model comparison, CLV table
- :mod:`helpers.plotting`      seaborn figures
- :mod:`helpers.privacy`       pseudonymised ids, personal-data column screening
- :mod:`helpers.generator`     seeded new-retail dataset with known truth (`python -m helpers.generator`)
- :mod:`helpers.render`        papermill execution and HTML rendering of playbook pages
- :mod:`helpers.build`         the `python -m helpers build` command
- :mod:`helpers.studies`       study configs (playbooks.yaml): studies, variants, languages
- :mod:`helpers.cache`         skipping unchanged pages (notebook, parameters and data hashes)
- :mod:`helpers.site`          staging and swapping the site, index and navigation
- :mod:`helpers.i18n`          page language (en, zh-CN) and string catalogs
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("retail-playbooks")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
