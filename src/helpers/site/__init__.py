"""Running and publishing: the study config, papermill runs, the cache, the index, the build."""
