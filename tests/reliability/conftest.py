"""Fixtures for the reliability tests: an in-process engine, and servers in the production configuration."""

from __future__ import annotations

import pytest

from speech.engine.loading import load_model
from speech.engine.worker import Engine


@pytest.fixture(scope="module")
def engine():
    engine = Engine(load_model("tiny-random", device="cpu", dtype="float32"), max_batch=2, max_queue=4)
    yield engine
    engine.close()


@pytest.fixture
def session(server, sample_path):
    """Makes streaming sessions on the shared server: session(**fields) -> id."""
    from tests.streaming.conftest import create_session

    return lambda **fields: create_session(server, sample_path, **fields)
