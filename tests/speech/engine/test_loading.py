"""Model loading: tiny-random on the real path, and actionable messages for every failure."""

import httpx2
import pytest
import torch
from huggingface_hub.errors import GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError

from speech.engine.loading import ModelLoadError, explain_load_error, load_model


def _response(status: int) -> httpx2.Response:
    return httpx2.Response(status, request=httpx2.Request("GET", "https://hub.example/sesame/csm-1b"))


def test_tiny_random_loads_in_process_offline():
    loaded = load_model("tiny-random", device="cpu", dtype="auto")
    assert loaded.dtype == torch.float32
    assert loaded.model.config.num_codebooks == loaded.model.codec_model.config.num_quantizers
    assert not loaded.model.training


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (GatedRepoError("gated", response=_response(403)), ["accept its terms", "HF_TOKEN"]),
        (RepositoryNotFoundError("missing", response=_response(401)), ["HF_TOKEN", "CSM_MODEL"]),
        (LocalEntryNotFoundError("offline"), ["no network", "local folder"]),
        (torch.cuda.OutOfMemoryError("CUDA out of memory"), ["Out of memory", "CSM_DTYPE"]),
        (ValueError("something else"), ["Could not load", "something else"]),
        # What a machine without the weights meets first: transformers' own OSError.
        (
            OSError("Can't load feature extractor for 'sesame/csm-1b'."),
            ["accept the model's terms", "HF_TOKEN", "CSM_MODEL to a local folder", "CSM_MODEL=tiny-random"],
        ),
    ],
)
def test_failures_explain_what_to_do(error, words):
    message = explain_load_error("sesame/csm-1b", error)
    for word in words:
        assert word in message


def test_a_hub_error_wrapped_by_transformers_is_still_explained():
    try:
        try:
            raise GatedRepoError("gated", response=_response(403))
        except GatedRepoError as gated:
            raise OSError("You are trying to access a gated repo.") from gated
    except OSError as error:
        message = explain_load_error("sesame/csm-1b", error)
    assert "accept its terms" in message
    assert "HF_TOKEN" in message


def test_a_missing_model_raises_model_load_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="/nonexistent/csm"):
        load_model("/nonexistent/csm", device="cpu")
