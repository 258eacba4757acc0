"""HTTP endpoints for speech. Thin: validate, call one service, shape the response."""

from __future__ import annotations

import dataclasses
import re
import time

from adrf.views import APIView as AsyncAPIView
from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.throttling import SynthesisRateThrottle
from speech import audio, content_credentials, pipeline, storage
from speech.errors import NotFound
from speech.runtime import MODEL_IDS, MODELS_CREATED
from speech.serializers import ErrorSerializer, error_responses

from . import selectors, services
from .health import health_report
from .serializers import (
    ApiIndexSerializer,
    ModelListSerializer,
    ModelSerializer,
    SpeechSerializer,
    VerificationSerializer,
    VerifySerializer,
    VoiceCloneResultSerializer,
    VoiceCloneSerializer,
)

AUDIO_RESPONSES = {
    (200, content_type): OpenApiResponse(OpenApiTypes.BINARY, description=f"{fmt} audio")
    for fmt, content_type in audio.CONTENT_TYPES.items()
}
ERROR_RESPONSES = error_responses(400, 401, 404, 413, 429, 503)
INSTRUCTIONS_HEADER = "X-Instructions-Ignored"


def _response(speech: services.Speech, headers: dict | None = None) -> HttpResponse:
    if speech.streamed:
        return StreamingHttpResponse(speech.body, content_type=speech.content_type, headers=headers)
    return HttpResponse(speech.body, content_type=speech.content_type, headers=headers)


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
        examples=[
            OpenApiExample(
                "An mp3 file",
                value={"model": "tts-1", "voice": "alloy", "input": "Hello there!", "response_format": "mp3"},
                request_only=True,
            ),
            OpenApiExample(
                "Streamed as server-sent events",
                value={"model": "csm-1b", "voice": "alloy", "input": "Hello there!", "stream_format": "sse"},
                request_only=True,
            ),
        ],
    )
    async def post(self, request):
        serializer = SpeechSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        speech = await services.create_speech(
            owner=request.auth,
            text=data["input"],
            voice=data["voice"],
            voice_sample=data.get("voice_sample"),
            voice_sample_text=data.get("voice_sample_text") or "",
            speaker_id=data["speaker_id"],
            response_format=data.get("response_format") or "mp3",
            speed=data.get("speed") or 1.0,
            stream=bool(data.get("stream")),
            stream_format=data.get("stream_format"),
            sampling=pipeline.sampling_of(data),
        )
        headers = {}
        if data.get("instructions"):
            headers[INSTRUCTIONS_HEADER] = "CSM cannot follow style instructions; they were ignored."
        return _response(speech, headers)


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
        examples=[
            OpenApiExample(
                "A stored wav clip (attach audio_file)",
                value={"text": "Hello in your voice.", "context_text": "What the sample says.", "output_format": "wav"},
                request_only=True,
                media_type="multipart/form-data",
            )
        ],
    )
    async def post(self, request):
        serializer = VoiceCloneSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        fields = {
            "owner": request.auth,
            "text": data["text"],
            "sample": data["audio_file"].read() if data.get("audio_file") else None,
            "voice_id": data.get("voice_id"),
            "context_text": data["context_text"],
            "speaker_id": data["speaker_id"],
            "output_format": data["output_format"],
            "sampling": pipeline.sampling_of(data),
        }
        if data["stream"]:
            return _response(await services.stream_voice_clone(**fields))
        clip = await services.create_clip(**fields)
        result = {
            "audio_url": selectors.clip_url(clip),
            "manifest_url": selectors.clip_manifest_url(clip),
            "duration_seconds": clip.duration_seconds,
        }
        return Response(VoiceCloneResultSerializer(result).data)


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
        data = storage.read_file(clip.file, missing="Audio file not found.")
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


class ManifestFileView(APIView):
    permission_classes = [AllowAny]  # as for the clip itself: the owner's key, or the clip URL's signature

    @extend_schema(
        operation_id="getAudioManifest",
        summary="A stored clip's sidecar C2PA manifest",
        description=(
            "The signed Content Credentials of a clip whose format cannot embed them (opus, aac, pcm), bound to the "
            "clip's exact bytes. Read with the clip's own rules: the owner's key, or the clip URL's `sig`. 404 for "
            "a wav, mp3 or flac clip, which carries its manifest inside the file."
        ),
        parameters=[OpenApiParameter("sig", str, description="The signature of the clip's audio_url.")],
        responses={
            (200, content_credentials.MANIFEST_CONTENT_TYPE): OpenApiTypes.BINARY,
            401: ErrorSerializer,
            404: ErrorSerializer,
        },
    )
    def get(self, request, filename: str):
        clip = selectors.clip_for_download(
            filename=filename, owner=request.auth, signature=request.query_params.get("sig")
        )
        if not clip.manifest:
            raise NotFound("This clip carries its Content Credentials inside the audio file; it has no sidecar.")
        data = storage.read_file(clip.manifest, missing="Manifest not found.")
        return HttpResponse(data, content_type=content_credentials.MANIFEST_CONTENT_TYPE)


class VerifyView(AsyncAPIView):
    @extend_schema(
        operation_id="verifyAudio",
        summary="Check an audio file's Content Credentials (C2PA)",
        description=(
            "Multipart upload of `file` (and, for a file whose manifest is a sidecar, that `.c2pa` file as "
            "`manifest`). Answers whether a manifest is present, whether it is valid (signature good and the file "
            "unchanged since signing), whether this server's certificate signed it, and what it claims. Nothing is "
            "fetched over the network (no remote manifests, no OCSP)."
        ),
        request={"multipart/form-data": VerifySerializer},
        responses={200: VerificationSerializer, **error_responses(400, 401, 413)},
        examples=[
            OpenApiExample(
                "A file to check (attach it as file)", value={}, request_only=True, media_type="multipart/form-data"
            )
        ],
    )
    async def post(self, request):
        serializer = VerifySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        manifest = data.get("manifest")
        verification = await services.verify_audio(
            data=data["file"].read(), manifest=manifest.read() if manifest else None
        )
        return Response(VerificationSerializer(dataclasses.asdict(verification)).data)


def _model(model_id: str) -> dict:
    return ModelSerializer({"id": model_id, "created": MODELS_CREATED}).data


class ModelListView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="listModels", summary="Models (csm-1b and its OpenAI aliases)", responses=ModelListSerializer
    )
    def get(self, request):
        models = [{"id": model_id, "created": MODELS_CREATED} for model_id in MODEL_IDS]
        return Response(ModelListSerializer({"data": models}).data)


class ModelDetailView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="retrieveModel", summary="One model", responses={200: ModelSerializer, 404: ErrorSerializer}
    )
    def get(self, request, model_id: str):
        if model_id not in MODEL_IDS:
            raise NotFound(f"Model '{model_id}' not found.", param="model")
        return Response(_model(model_id))


class HealthView(AsyncAPIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="health",
        summary="Whether the service can serve: the database, the cache, the channel layer and the model",
        description=(
            "200 when every dependency answers and the model is ready; 503 otherwise (a dependency down, the "
            "model loading or failed), with each part's `status` (and `error`). `model.status` is loading, "
            "ready or failed."
        ),
        responses={200: OpenApiTypes.OBJECT, 503: OpenApiTypes.OBJECT},
    )
    async def get(self, request):
        serving, report = await health_report()
        body = {"status": "ok" if serving else "unavailable", "time": int(time.time()), **report}
        return Response(body, status=200 if serving else 503)


DOCS = {"swagger_ui": "/docs", "redoc": "/redoc", "openapi": "/openapi.json", "playground": "/playground"}
ENDPOINTS = [
    ("POST", "/v1/audio/speech", "Generate speech (OpenAI-compatible)"),
    ("GET", "/v1/audio/voices", "Voices: saved, shared and OpenAI's built-in names"),
    ("POST", "/v1/audio/voices", "Create a voice from a sample and a consent"),
    ("POST", "/v1/audio/voice_consents", "Upload a voice consent recording"),
    ("POST", "/v1/voice-clone", "Clone a voice from a sample and speak text with it"),
    ("GET", "/v1/audio/{filename}", "A stored clip"),
    ("GET", "/v1/audio/{filename}.c2pa", "A stored clip's sidecar C2PA manifest (opus, aac, pcm)"),
    ("POST", "/v1/audio/verify", "Check an audio file's Content Credentials (C2PA)"),
    ("POST", "/v1/streaming-session", "Create a streaming session"),
    ("POST", "/v1/stream-text", "Add text to a streaming session"),
    ("GET", "/v1/ws/stream-text/{session_id}", "WebSocket: stream text in, audio out"),
    ("GET", "/v1/models", "Models"),
    ("GET", "/v1/audio/models", "Speech models, as Open WebUI reads them"),
    ("GET", "/health", "Liveness and the model's state"),
]


class ApiIndexView(APIView):
    """`GET /v1/`: clients that check the base URL first (LiveKit Agents warms up with it) get a 200."""

    permission_classes = [AllowAny]

    @extend_schema(operation_id="apiIndex", summary="The API's index: endpoints and docs", responses=ApiIndexSerializer)
    def get(self, request):
        endpoints = [{"method": method, "path": path, "summary": summary} for method, path, summary in ENDPOINTS]
        return Response(ApiIndexSerializer({"models": MODEL_IDS, "docs": DOCS, "endpoints": endpoints}).data)
