"""The customer base: cohorts, repeat curves, lifecycle stages (``notebooks/customer_base.ipynb``)."""
