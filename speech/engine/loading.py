"""Loading CSM: from the Hub or a local folder, or `tiny-random` built in process."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

logger = logging.getLogger(__name__)

TINY_RANDOM = "tiny-random"
TRY_TINY_RANDOM = "To try the API without the weights, set CSM_MODEL=tiny-random (it speaks noise)."


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
    """Turns a loading exception into what the operator should do.

    transformers wraps the Hub's errors in an OSError ("Can't load feature extractor for ..."), so the
    whole chain of causes is read, not only the error itself."""
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )

    chain = _causes(error)
    text = f"{type(error).__name__}: {error}"
    texts = " ".join(f"{type(cause).__name__}: {cause}" for cause in chain)
    if any(isinstance(cause, GatedRepoError) for cause in chain):
        return (
            f"{name} is a gated model: accept its terms on its Hugging Face page with your account, "
            f"then set HF_TOKEN to a token of that account. {TRY_TINY_RANDOM}"
        )
    if any(isinstance(cause, RepositoryNotFoundError) for cause in chain) or "401" in texts:
        return (
            f"Could not access {name}: the repository does not exist or HF_TOKEN is missing or invalid. "
            f"Check CSM_MODEL and set HF_TOKEN to a valid read token. {TRY_TINY_RANDOM}"
        )
    if any(isinstance(cause, torch.cuda.OutOfMemoryError) for cause in chain) or "out of memory" in texts.lower():
        return (
            f"Out of memory while loading {name}: free GPU memory (another process may hold it), "
            "use CSM_DTYPE=bfloat16, or CSM_DEVICE=cpu."
        )
    offline = ("connect", "offline", "name or service not known", "temporary failure in name resolution")
    if any(isinstance(cause, LocalEntryNotFoundError) for cause in chain) or any(
        word in texts.lower() for word in offline
    ):
        return (
            f"Could not download {name}: no network connection to the Hugging Face Hub and no local copy. "
            f"Connect this machine, or download the model elsewhere and set CSM_MODEL to its local folder. "
            f"{TRY_TINY_RANDOM}"
        )
    if Path(name).is_dir() or name.startswith(("/", ".", "~")):
        return (
            f"Could not load {name}: {text}. Set CSM_MODEL to a folder holding CSM's files "
            f"(config.json, the weights and the processor's files). {TRY_TINY_RANDOM}"
        )
    return (
        f"Could not load {name}. To serve it, accept the model's terms on https://huggingface.co/{name} "
        "and set HF_TOKEN to a token of that account, or set CSM_MODEL to a local folder holding the model. "
        f"{TRY_TINY_RANDOM} ({text})"
    )


def _causes(error: BaseException) -> list[BaseException]:
    """The error, then what caused it, and so on (each once)."""
    chain: list[BaseException] = []
    while error is not None and error not in chain:
        chain.append(error)
        error = error.__cause__ or error.__context__
    return chain
