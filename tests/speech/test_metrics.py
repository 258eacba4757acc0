"""speech.metrics: each error answered to a client counts under its refusal reason, and only refusals count."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY
from rest_framework import exceptions

from speech import errors
from speech.metrics import count_refusal


def rejected() -> dict[str, float]:
    return {
        sample.labels["reason"]: sample.value
        for family in REGISTRY.collect()
        if family.name == "csm_requests_rejected"
        for sample in family.samples
        if sample.name == "csm_requests_rejected_total"
    }


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (errors.EngineBusy("busy"), "queue_full"),
        (errors.as_service_error(exceptions.Throttled(wait=3)), "rate_limited"),
        (errors.TooManyStreams("streams"), "too_many_streams"),
        (errors.ContextTooLong("long"), "too_long"),
        (errors.SessionTextFull("full"), "session_text_full"),
        (errors.AudioTooLarge("large"), "audio_too_large"),
        (errors.RequestTooLarge("large"), "request_too_large"),
        (errors.RequestTimeout("slow"), "request_timeout"),
        (errors.Unauthorized("no key"), "unauthorized"),
        (errors.Unauthorized("no key", code="missing_api_key"), "unauthorized"),
        (errors.as_service_error(exceptions.NotAuthenticated("origin")), "unauthorized"),
        (errors.EngineUnavailable("loading"), "model_not_loaded"),
        (errors.ServiceUnavailable("database"), "service_unavailable"),
    ],
)
def test_a_refusal_counts_once_under_its_reason(error, reason):
    before = rejected()
    count_refusal(error)
    after = rejected()

    assert after[reason] == before[reason] + 1
    assert {name: value for name, value in after.items() if name != reason} == {
        name: value for name, value in before.items() if name != reason
    }


@pytest.mark.parametrize(
    "error",
    [
        errors.InvalidAudio("bad"),
        errors.NotFound("gone"),
        errors.GenerationFailed("broke"),
        errors.as_service_error(exceptions.ValidationError({"input": ["required"]})),
    ],
)
def test_other_errors_are_not_refusals(error):
    before = rejected()
    count_refusal(error)
    assert rejected() == before
