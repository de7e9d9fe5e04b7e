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


# Property-based tests (tests/fuzz): a bounded default run; RNNKIT_FUZZ_PROFILE=long for the
# documented longer one (`pytest -m slow tests/fuzz`, see docs/errors.md).
try:
    from hypothesis import HealthCheck, settings

    _FUZZ = dict(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    settings.register_profile("default", max_examples=30, **_FUZZ)
    settings.register_profile("long", max_examples=1500, **_FUZZ)
    settings.load_profile(os.environ.get("RNNKIT_FUZZ_PROFILE", "default"))
except ImportError:  # hypothesis is a dev dependency; only tests/fuzz need it
    pass
