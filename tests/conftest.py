"""Session-wide test settings."""

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_cache_dir(tmp_path_factory):
    """The user cache (``models.egru.paper``'s calibrations) in a folder of this test session,
    also for the commands tests run as child processes: tests never read or write ~/.cache."""
    old = os.environ.get("S2SIM_CACHE_DIR")
    os.environ["S2SIM_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        os.environ.pop("S2SIM_CACHE_DIR", None)
    else:
        os.environ["S2SIM_CACHE_DIR"] = old
