"""Synthetic new-retail data with known ground truth.

A seeded, deterministic generator of an omnichannel membership business: customers,
order lines (with returns), loyalty events, service tickets and a pilot A/B test. The
purchase days follow the BG/NBD process and the spend per purchase day the Gamma-Gamma
model with parameters from :class:`GeneratorConfig`, so a CLV study run on the data can
be checked against the truth (``truth.json``). Tables and rules: ``data/README.md``.

>>> from helpers.data.generator import GeneratorConfig, generate, write
>>> data = generate(GeneratorConfig(n_customers=2000, seed=1))       # doctest: +SKIP
>>> write(data, "out/", fmt="parquet")                                # doctest: +SKIP

For millions of customers stream to files with :func:`generate_to_parquet`; from a shell:
``python -m helpers.data.generator --customers 5000 --seed 7 --out data/newretail``.
"""

from helpers.data.generator.cli import main
from helpers.data.generator.config import (
    BLOCK_CUSTOMERS,
    GENERATOR_VERSION,
    GeneratorConfig,
)
from helpers.data.generator.output import (
    NewRetailData,
    generate,
    generate_to_folder,
    generate_to_parquet,
    write,
)
from helpers.data.generator.tables import SCHEMA, TABLES

__all__ = [
    "BLOCK_CUSTOMERS",
    "GENERATOR_VERSION",
    "GeneratorConfig",
    "NewRetailData",
    "SCHEMA",
    "TABLES",
    "generate",
    "generate_to_folder",
    "generate_to_parquet",
    "main",
    "write",
]
