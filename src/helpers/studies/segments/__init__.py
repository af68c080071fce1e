"""Segments: RFM grid, tiers, action library, per-segment pages (``notebooks/segments.ipynb``)."""
