"""Shared fixtures: the authors' reference data and small helpers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

# Tests must never oversubscribe the 2 cores with BLAS/OpenMP threads.
os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / "shared" / "fixtures"
if not FIXTURES.is_dir():  # a copy kept inside the repo for clones without ../shared
    FIXTURES = REPO / "tests" / "data"


def load_reference(kind: str) -> dict:
    return json.loads((FIXTURES / f"otmann_reference_{kind}.json").read_text())


@pytest.fixture(scope="session")
def reference_cnn() -> dict:
    return load_reference("cnn")


@pytest.fixture(scope="session")
def reference_mlp() -> dict:
    return load_reference("mlp")


@pytest.fixture(params=["cnn", "mlp"], scope="session")
def reference(request) -> dict:
    return load_reference(request.param)
