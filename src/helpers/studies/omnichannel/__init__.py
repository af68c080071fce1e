"""Omnichannel: channel mix, multi-channel customers, migration (``notebooks/omnichannel.ipynb``)."""
