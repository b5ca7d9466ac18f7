"""Fixtures shared by the compiler and engine tests: each test module names its network and its
inputs as data (``NET``: ``random_network`` keywords; ``INPUTS``: seed and steps), and these
build them once per module."""

import numpy as np
import pytest

from s2sim.compiler.random_net import random_network


@pytest.fixture(scope="module")
def net(request):
    return random_network(**request.module.NET)


@pytest.fixture(scope="module")
def xs(request):
    """``INPUTS["steps"]`` standard-normal float32 input vectors of the network's width."""
    inputs = request.module.INPUTS
    rng = np.random.default_rng(inputs["seed"])
    return rng.standard_normal((inputs["steps"], request.module.NET["n_in"])).astype(np.float32)
