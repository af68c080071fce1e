"""Customer portraits and dynamic tags (用户画像 + 动态标签), with price sensitivity (``notebooks/tags.ipynb``)."""
