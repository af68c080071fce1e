"""Service: promises, breaches, issue types, later purchasing (``notebooks/service.ipynb``)."""
