"""Customer lifetime value: holdout validation, model comparison, CLV table (``notebooks/clv.ipynb``)."""
