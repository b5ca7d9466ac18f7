import pytest

from s2sim.spec import load_spec


@pytest.fixture(scope="session")
def spec():
    return load_spec()
