"""HTTP endpoints for streaming sessions. Thin: validate, call one service, shape the response."""

from __future__ import annotations

from adrf.views import APIView as AsyncAPIView
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework.response import Response

from speech.audio import CONTENT_TYPES
from speech.serializers import error_responses

from . import services
from .serializers import StreamingSessionCreatedSerializer, StreamingSessionSerializer, StreamTextSerializer

ERROR_RESPONSES = error_responses(400, 401, 404, 413, 429, 503)


class StreamingSessionView(AsyncAPIView):
    @extend_schema(
        operation_id="createStreamingSession",
        summary="Create a streaming session",
        description=(
            "Multipart upload of a voice sample (or a saved voice's id) and the parameters every segment is "
            "spoken with. The session is stored: any server process can serve it until it expires "
            "(CSM_SESSION_TTL_SECONDS after its last use). Feed it text with `POST /v1/stream-text` or the "
            "WebSocket `/v1/ws/stream-text/{session_id}`."
        ),
        request={"multipart/form-data": StreamingSessionSerializer},
        responses={200: StreamingSessionCreatedSerializer, **ERROR_RESPONSES},
        examples=[
            OpenApiExample(
                "A session (attach audio_file)",
                value={"context_text": "What the sample says.", "output_format": "wav"},
                request_only=True,
                media_type="multipart/form-data",
            )
        ],
    )
    async def post(self, request):
        serializer = StreamingSessionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        session = await services.create_session(
            sample=data["audio_file"].read() if data.get("audio_file") else None,
            voice_id=data.get("voice_id"),
            context_text=data["context_text"],
            speaker_id=data["speaker_id"],
            temperature=data["temperature"],
            topk=data["topk"],
            seed=data.get("seed"),
            output_format=data["output_format"],
            max_audio_length_ms=data.get("max_audio_length_ms"),
            owner=request.auth,
        )
        return Response(StreamingSessionCreatedSerializer(session).data)


class StreamTextView(AsyncAPIView):
    @extend_schema(
        operation_id="streamText",
        summary="Add text to a streaming session; get the audio of what it completed",
        description=(
            "Text is buffered to sentence ends (long sentences are cut at clauses); `is_final` speaks everything "
            "left. The response is a WAV of the segments this chunk completed, spoken one after the other with "
            "the session's voice; a valid WAV with no samples when it completed none."
        ),
        request=StreamTextSerializer,
        examples=[
            OpenApiExample(
                "The last words (session_id: your session's)",
                value={
                    "session_id": "3f2c1a4e-5b6d-4c7e-8f90-a1b2c3d4e5f6",
                    "text_chunk": "Hello there. How are you?",
                    "is_final": True,
                },
                request_only=True,
            )
        ],
        responses={
            (200, "audio/wav"): OpenApiResponse(OpenApiTypes.BINARY, description="wav audio"),
            **ERROR_RESPONSES,
        },
    )
    async def post(self, request):
        serializer = StreamTextSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        wav = await services.stream_text(
            data["session_id"], data["text_chunk"], is_final=data["is_final"], owner=request.auth
        )
        return HttpResponse(wav, content_type=CONTENT_TYPES["wav"])
