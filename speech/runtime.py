"""The process's one engine: loaded in the background when the server starts, never during management commands."""

from __future__ import annotations

import logging
import threading

from django.conf import settings

from .engine.loading import ModelLoadError, load_model
from .engine.worker import Engine
from .errors import EngineUnavailable
from .metrics import EngineMetrics, watch

logger = logging.getLogger(__name__)

MODEL_IDS = ("csm-1b", "tts-1", "tts-1-hd", "gpt-4o-mini-tts")  # csm-1b and the OpenAI names clients send
MODELS_CREATED = 1741824000  # csm-1b's release, 2025-03-13; also the built-in voices' created_at

_lock = threading.Lock()
_state: dict = {"status": "not started", "error": None, "engine": None}


def start_engine() -> None:
    """Starts loading the model in a background thread (once per process)."""
    with _lock:
        if _state["status"] != "not started":
            return
        _state["status"] = "loading"
    threading.Thread(target=_load, name="csm-loader", daemon=True).start()


def _load() -> None:
    try:
        loaded = load_model(
            settings.CSM_MODEL, device=settings.CSM_DEVICE, dtype=settings.CSM_DTYPE, token=settings.HF_TOKEN
        )
        engine = Engine(
            loaded,
            max_batch=settings.CSM_MAX_BATCH,
            max_queue=settings.CSM_MAX_QUEUE,
            chunk_frames=settings.CSM_STREAM_CHUNK_FRAMES,
            observer=EngineMetrics(),
            compile=settings.CSM_COMPILE,
            cuda_graphs=settings.CSM_CUDA_GRAPHS,
            max_request_ms=settings.CSM_MAX_AUDIO_SECONDS * 1000,
            prefix_cache_mb=settings.CSM_PREFIX_CACHE_MB,
        )
    except ModelLoadError as error:
        logger.error("Model not loaded: %s", error)
        _state.update(status="failed", error=str(error))
        return
    except Exception as error:  # noqa: BLE001 - the server stays up and /health says why
        logger.exception("Engine failed to start")
        _state.update(status="failed", error=f"The engine failed to start: {error}")
        return
    watch(engine, model=settings.CSM_MODEL)
    _state.update(status="ready", engine=engine)


def get_engine() -> Engine:
    """The ready engine, or EngineUnavailable saying why not."""
    engine = _state["engine"]
    if engine is not None:
        return engine
    if _state["status"] == "failed":
        raise EngineUnavailable(_state["error"])
    start_engine()
    raise EngineUnavailable(f"The model {settings.CSM_MODEL} is still loading; try again shortly.")


def engine_state() -> dict:
    engine: Engine | None = _state["engine"]
    state = {"name": settings.CSM_MODEL, "status": _state["status"], "error": _state["error"]}
    if engine is not None:
        state |= {
            "device": str(engine.loaded.device),
            "dtype": str(engine.loaded.dtype).removeprefix("torch."),
            "active_requests": len(engine.active),
            "waiting_requests": engine.busy - len(engine.active),
            "max_batch": engine.max_batch,
            # The frame steps serving: "cuda_graphs", "compiled", "bucketed" or "direct", and why the faster
            # ones asked for are not (they failed to start or disagreed with the direct steps), else None.
            "path": engine.generator.path,
            "path_fallback_reason": engine.generator.fallback_reason,
        }
    return state
