"""Shared fixtures: where the committed sample files live."""

from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"


@pytest.fixture
def samples_dir() -> Path:
    return SAMPLES
