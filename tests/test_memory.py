"""release_free_memory: freed memory back to the system, nothing in use touched."""

from __future__ import annotations

import sys

import numpy as np
import pyarrow as pa
import pytest

from helpers.models import memory


@pytest.fixture
def calls(monkeypatch):
    """What release_free_memory asked for, with pyarrow's pool replaced by a recorder."""
    asked = []

    class Pool:
        def release_unused(self):
            asked.append("pool")

    monkeypatch.setattr(pa, "default_memory_pool", lambda: Pool())
    return asked


def test_release_asks_pyarrows_pool_and_glibc(monkeypatch, calls):
    monkeypatch.setattr(memory, "_malloc_trim", lambda: lambda pad: calls.append(("trim", pad)))
    memory.release_free_memory()
    assert calls == ["pool", ("trim", 0)]


def test_release_without_malloc_trim_still_releases_the_pool(monkeypatch, calls):
    monkeypatch.setattr(memory, "_malloc_trim", lambda: None)
    memory.release_free_memory()
    assert calls == ["pool"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_release_for_real_keeps_live_data():
    arrow = pa.array(np.arange(1_000_000, dtype=np.int64))
    values = np.arange(1_000_000, dtype=np.float64)
    garbage = [bytearray(50_000) for _ in range(200)]
    del garbage
    memory.release_free_memory()
    memory.release_free_memory()  # twice is harmless
    assert arrow.to_numpy()[-1] == 999_999 and values.sum() == 499_999_500_000.0
    assert memory._malloc_trim() is not None  # the benchmark machine runs glibc
