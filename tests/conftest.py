"""Shared test fixtures: paths to ../shared/datasets and a per-test seed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_DATASETS = Path(os.environ.get("RNNKIT_SHARED", REPO.parent / "shared")) / "datasets"


@pytest.fixture(autouse=True)
def _seed_everything():
    torch.manual_seed(0)
    yield


@pytest.fixture
def shared_datasets() -> Path:
    """The real public data sets that sit beside the checkout (skip the test if absent)."""
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"{SHARED_DATASETS} not present")
    return SHARED_DATASETS
