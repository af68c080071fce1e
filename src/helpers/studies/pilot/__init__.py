"""Pilot readout: SRM, CUPED, bootstrap, segments, sample size (``notebooks/pilot_readout.ipynb``)."""
