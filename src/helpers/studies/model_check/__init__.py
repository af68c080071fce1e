"""Model check on real data: our fits on CDNOW next to the published ones (``notebooks/model_check.ipynb``)."""
