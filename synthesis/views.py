"""HTTP endpoints for speech. Thin: validate, call one service, shape the response."""

from __future__ import annotations

import asyncio
import re
import time

from adrf.views import APIView as AsyncAPIView
from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.throttling import SynthesisRateThrottle
from voices.selectors import voice_for_speech

from . import audio, selectors, services
from .errors import NotFound, ServiceError
from .runtime import engine_state
from .serializers import (
    MODEL_IDS,
    ErrorSerializer,
    ModelListSerializer,
    ModelSerializer,
    SpeechSerializer,
    VoiceCloneResultSerializer,
    VoiceCloneSerializer,
)

AUDIO_RESPONSES = {
    (200, content_type): OpenApiResponse(OpenApiTypes.BINARY, description=f"{fmt} audio")
    for fmt, content_type in audio.CONTENT_TYPES.items()
}
ERROR_RESPONSES = {status: ErrorSerializer for status in (400, 401, 404, 413, 429, 503)}
INSTRUCTIONS_HEADER = "X-Instructions-Ignored"
MODELS_CREATED = 1741824000  # csm-1b's release, 2025-03-13; also the built-in voices' created_at


def _sampling(data: dict) -> dict:
    return {key: data.get(key) for key in ("temperature", "topk", "max_audio_length_ms")}


def _audio_response(stream_or_bytes, fmt: str, headers: dict | None = None) -> HttpResponse:
    content_type = audio.CONTENT_TYPES[fmt]
    if isinstance(stream_or_bytes, bytes):
        return HttpResponse(stream_or_bytes, content_type=content_type, headers=headers)
    return StreamingHttpResponse(stream_or_bytes, content_type=content_type, headers=headers)


class SpeechView(AsyncAPIView):
    throttle_classes = [SynthesisRateThrottle]

    @extend_schema(
        operation_id="createSpeech",
        summary="Generate speech (OpenAI-compatible)",
        description=(
            "OpenAI's speech endpoint. `instructions` is accepted but CSM cannot follow it (the response says so "
            f"in the `{INSTRUCTIONS_HEADER}` header). With `stream: true` the audio is sent as it is generated; "
            "with `stream_format: sse`, as `speech.audio.delta` events then `speech.audio.done`."
        ),
        request=SpeechSerializer,
        responses={**AUDIO_RESPONSES, (200, "text/event-stream"): OpenApiTypes.STR, **ERROR_RESPONSES},
    )
    async def post(self, request):
        serializer = SpeechSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        fmt = data.get("response_format") or "mp3"
        speed = data.get("speed") or 1.0
        # `stream: true`, or a stream_format given explicitly, streams the audio as it is generated.
        streaming = bool(data.get("stream")) or data.get("stream_format") in ("audio", "sse")
        if streaming and speed != 1.0:
            raise ServiceError("speed other than 1.0 is not supported with streaming.", param="speed")
        if data.get("voice_sample"):
            sample = services.decode_base64_sample(data["voice_sample"])
            voice = await services.voice_from_sample(
                sample,
                transcript=data.get("voice_sample_text") or "",
                speaker=data.get("speaker_id") or 0,
                param="voice_sample",
            )
        else:
            voice = await voice_for_speech(owner=request.auth, voice=data["voice"], speaker=data.get("speaker_id"))
        headers = {}
        if data.get("instructions"):
            headers[INSTRUCTIONS_HEADER] = "CSM cannot follow style instructions; they were ignored."
        if data.get("stream_format") == "sse":
            stream = services.start_speech(voice, data["input"], **_sampling(data))
            events = await services.started(services.sse_events(stream, fmt, input_tokens=len(data["input"])))
            return StreamingHttpResponse(events, content_type="text/event-stream", headers=headers)
        if streaming:
            stream = services.start_speech(voice, data["input"], **_sampling(data))
            return _audio_response(await services.started(services.encoded_stream(stream, fmt)), fmt, headers)
        pcm = await services.synthesize(voice, data["input"], speed=speed, **_sampling(data))
        body = await asyncio.to_thread(audio.encode, pcm, fmt, metadata=services.provenance())
        return _audio_response(body, fmt, headers)


class VoiceCloneView(AsyncAPIView):
    throttle_classes = [SynthesisRateThrottle]

    @extend_schema(
        operation_id="voiceClone",
        summary="Clone a voice from a sample and speak text with it",
        description=(
            "Multipart upload. With `stream=false` the clip is stored and its URL returned; with `stream=true` "
            "the audio itself is streamed as it is generated."
        ),
        request={"multipart/form-data": VoiceCloneSerializer},
        responses={200: VoiceCloneResultSerializer, **AUDIO_RESPONSES, **ERROR_RESPONSES},
    )
    async def post(self, request):
        serializer = VoiceCloneSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data.get("audio_file"):
            voice = await services.voice_from_sample(
                data["audio_file"].read(),
                transcript=data["context_text"],
                speaker=data["speaker_id"],
                param="audio_file",
            )
        else:
            voice = await voice_for_speech(
                owner=request.auth, voice=data["voice_id"], speaker=data["speaker_id"], param="voice_id"
            )
        fmt = data["output_format"]
        if data["stream"]:
            stream = services.start_speech(voice, data["text"], **_sampling(data))
            return _audio_response(await services.started(services.encoded_stream(stream, fmt)), fmt)
        parameters = {**_sampling(data), "speaker_id": voice.speaker}  # a saved voice speaks as its own speaker
        clip = await services.synthesize_clip(
            voice, data["text"], output_format=fmt, parameters=parameters, owner=request.auth
        )
        return Response({"audio_url": selectors.clip_url(clip), "duration_seconds": clip.duration_seconds})


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class AudioFileView(APIView):
    permission_classes = [AllowAny]  # the owner's key, or the URL's signature: checked by the selector

    @extend_schema(
        operation_id="getAudio",
        summary="A stored clip (supports Range requests)",
        description="Readable with the owner's key, or without one through the signed URL that was handed out.",
        parameters=[OpenApiParameter("sig", str, description="The signature of a handed-out audio_url.")],
        responses={
            **AUDIO_RESPONSES,
            (206, "audio/wav"): OpenApiTypes.BINARY,
            401: ErrorSerializer,
            404: ErrorSerializer,
        },
    )
    def get(self, request, filename: str):
        clip = selectors.clip_for_download(
            filename=filename, owner=request.auth, signature=request.query_params.get("sig")
        )
        try:
            with clip.file.open("rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            raise NotFound("Audio file not found.") from None
        content_type = audio.CONTENT_TYPES.get(clip.output_format, "application/octet-stream")
        headers = {"Accept-Ranges": "bytes"}
        match = _RANGE.match(request.headers.get("Range", "").strip())
        if not match or not any(match.groups()):
            return HttpResponse(data, content_type=content_type, headers=headers)
        first, last = match.groups()
        size = len(data)
        start = int(first) if first else max(0, size - int(last))
        end = min(int(last), size - 1) if first and last else size - 1
        if start >= size or start > end:
            headers["Content-Range"] = f"bytes */{size}"
            return HttpResponse(status=416, headers=headers)
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        return HttpResponse(data[start : end + 1], status=206, content_type=content_type, headers=headers)


def _model(model_id: str) -> dict:
    return {"id": model_id, "object": "model", "created": MODELS_CREATED, "owned_by": "sesame"}


class ModelListView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="listModels", summary="Models (csm-1b and its OpenAI aliases)", responses=ModelListSerializer
    )
    def get(self, request):
        return Response({"object": "list", "data": [_model(model_id) for model_id in MODEL_IDS]})


class ModelDetailView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="retrieveModel", summary="One model", responses={200: ModelSerializer, 404: ErrorSerializer}
    )
    def get(self, request, model_id: str):
        if model_id not in MODEL_IDS:
            raise NotFound(f"Model '{model_id}' not found.", param="model")
        return Response(_model(model_id))


class HealthView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="health",
        summary="Liveness and model state",
        description="Always 200 while the server runs; `model.status` is loading, ready or failed (with `error`).",
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        model = engine_state()
        return Response({"status": "ok", "time": int(time.time()), "model": model})
