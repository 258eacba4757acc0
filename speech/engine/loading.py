"""Loading CSM: from the Hub or a local folder, or `tiny-random` built in process."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

logger = logging.getLogger(__name__)

TINY_RANDOM = "tiny-random"


class ModelLoadError(Exception):
    """The model could not be loaded; the message says what to do about it."""


@dataclass
class LoadedModel:
    name: str
    model: object  # CsmForConditionalGeneration
    processor: object  # CsmProcessor
    device: torch.device
    dtype: torch.dtype


def pick_device(device: str = "auto") -> torch.device:
    if device != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def pick_dtype(dtype: str, device: torch.device) -> torch.dtype:
    if dtype != "auto":
        return getattr(torch, dtype)
    return torch.bfloat16 if device.type == "cuda" else torch.float32


def load_model(name: str, *, device: str = "auto", dtype: str = "auto", token: str | None = None) -> LoadedModel:
    """Loads once per process. Raises ModelLoadError with an actionable message."""
    torch_device = pick_device(device)
    torch_dtype = pick_dtype(dtype, torch_device)
    try:
        if name == TINY_RANDOM:
            from .tiny import build_tiny_model

            model, processor = build_tiny_model()
        else:
            from transformers import CsmForConditionalGeneration, CsmProcessor

            processor = CsmProcessor.from_pretrained(name, token=token)
            model = CsmForConditionalGeneration.from_pretrained(name, token=token, dtype=torch_dtype)
        model = model.to(device=torch_device, dtype=torch_dtype).eval()
    except Exception as error:  # noqa: BLE001 - every failure becomes one clear message
        raise ModelLoadError(explain_load_error(name, error)) from error
    logger.info("Loaded %s on %s (%s)", name, torch_device, torch_dtype)
    return LoadedModel(name=name, model=model, processor=processor, device=torch_device, dtype=torch_dtype)


def explain_load_error(name: str, error: BaseException) -> str:
    """Turns a loading exception into what the operator should do."""
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )

    text = f"{type(error).__name__}: {error}"
    if isinstance(error, GatedRepoError):
        return (
            f"{name} is a gated model: accept its terms on its Hugging Face page with your account, "
            "then set HF_TOKEN to a token of that account."
        )
    if isinstance(error, RepositoryNotFoundError) or "401" in text:
        return (
            f"Could not access {name}: the repository does not exist or HF_TOKEN is missing or invalid. "
            "Check CSM_MODEL and set HF_TOKEN to a valid read token."
        )
    if isinstance(error, LocalEntryNotFoundError) or "connect" in text.lower() or "offline" in text.lower():
        return (
            f"Could not download {name}: no network connection to the Hugging Face Hub and no local copy. "
            "Connect this machine, or download the model elsewhere and set CSM_MODEL to its local folder."
        )
    if isinstance(error, torch.cuda.OutOfMemoryError) or "out of memory" in text.lower():
        return (
            f"Out of memory while loading {name}: free GPU memory (another process may hold it), "
            "use CSM_DTYPE=bfloat16, or CSM_DEVICE=cpu."
        )
    return f"Could not load {name}: {text}"
