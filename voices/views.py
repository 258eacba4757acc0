"""The custom-voices API (OpenAI's voice consents and voices) and the discovery lists clients read.

Thin: validate, call one service or selector, shape the response. Views that decode or encode audio are
async (the audio work runs off the database thread); the others are plain DRF views.
"""

from __future__ import annotations

import mimetypes

from adrf.views import APIView as AsyncAPIView
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.throttling import SynthesisRateThrottle
from speech.runtime import MODEL_IDS, MODELS_CREATED
from speech.serializers import error_responses
from speech.voice import BUILTIN_VOICES

from . import selectors, services
from .serializers import (
    AudioModelListSerializer,
    ConsentCreateSerializer,
    ConsentDeletedSerializer,
    ConsentListSerializer,
    ConsentSerializer,
    ConsentUpdateSerializer,
    PageQuerySerializer,
    VoiceCreateSerializer,
    VoiceDeletedSerializer,
    VoiceListSerializer,
    VoiceSerializer,
)

ERRORS = error_responses(400, 401, 404, 413, 429, 503)


def _consent_page(page: selectors.Page) -> dict:
    items = page.items
    first_id, last_id = (items[0].pk, items[-1].pk) if items else (None, None)
    return ConsentListSerializer(
        {"data": items, "first_id": first_id, "last_id": last_id, "has_more": page.has_more}
    ).data


class ConsentListView(AsyncAPIView):
    @extend_schema(
        operation_id="listVoiceConsents",
        summary="List voice consent recordings",
        parameters=[PageQuerySerializer],
        responses={200: ConsentListSerializer, **ERRORS},
    )
    async def get(self, request):
        query = PageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = await services.list_consents(
            owner=request.auth, after=query.validated_data.get("after") or None, limit=query.validated_data["limit"]
        )
        return Response(_consent_page(page))

    @extend_schema(
        operation_id="createVoiceConsent",
        summary="Upload a voice consent recording",
        request={"multipart/form-data": ConsentCreateSerializer},
        responses={200: ConsentSerializer, **ERRORS},
        examples=[
            OpenApiExample(
                "A consent (attach recording)",
                value={"name": "Alice consents", "language": "en-US"},
                request_only=True,
                media_type="multipart/form-data",
            )
        ],
    )
    async def post(self, request):
        serializer = ConsentCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        consent = await services.create_consent(
            owner=request.auth,
            name=data["name"],
            language=data["language"],
            recording=data["recording"].read(),
            filename=data["recording"].name or "recording",
        )
        return Response(ConsentSerializer(consent).data)


class ConsentDetailView(APIView):
    @extend_schema(
        operation_id="retrieveVoiceConsent",
        summary="A voice consent recording",
        responses={200: ConsentSerializer, **ERRORS},
    )
    def get(self, request, consent_id: str):
        return Response(ConsentSerializer(selectors.get_consent(owner=request.auth, consent_id=consent_id)).data)

    @extend_schema(
        operation_id="updateVoiceConsent",
        summary="Rename a voice consent recording",
        request=ConsentUpdateSerializer,
        responses={200: ConsentSerializer, **ERRORS},
        examples=[OpenApiExample("A new name", value={"name": "Alice's consent"}, request_only=True)],
    )
    def post(self, request, consent_id: str):
        serializer = ConsentUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        consent = services.rename_consent(
            owner=request.auth, consent_id=consent_id, name=serializer.validated_data["name"]
        )
        return Response(ConsentSerializer(consent).data)

    @extend_schema(
        operation_id="deleteVoiceConsent",
        summary="Delete a voice consent recording (refused while voices use it)",
        responses={200: ConsentDeletedSerializer, **ERRORS},
    )
    def delete(self, request, consent_id: str):
        deleted = services.delete_consent(owner=request.auth, consent_id=consent_id)
        return Response(ConsentDeletedSerializer({"id": deleted}).data)


BUILTIN = [{"id": name, "name": name, "created_at": MODELS_CREATED, "type": "builtin"} for name in BUILTIN_VOICES]


class VoiceListView(AsyncAPIView):
    def get_permissions(self):
        return [] if self.request.method == "GET" else super().get_permissions()

    def get_throttles(self):
        return [SynthesisRateThrottle()] if self.request.method == "POST" else []

    @extend_schema(
        operation_id="listVoices",
        summary="Voices: the caller's, those shared with every key, and OpenAI's built-in names",
        description=(
            "Answers without a key too (then: shared voices and the built-in names). `data` holds voice objects, "
            "`voices` ids and names (Open WebUI reads `voices`, Home Assistant `data` or `voices`)."
        ),
        responses={200: VoiceListSerializer, **ERRORS},
    )
    async def get(self, request):
        saved = await services.list_voices(owner=request.auth)
        voices = [*saved, *BUILTIN]
        return Response(VoiceListSerializer({"data": voices, "voices": voices}).data)

    @extend_schema(
        operation_id="createVoice",
        summary="Create a voice from an audio sample and a consent recording",
        description="Extras: `transcript` (what the sample says) and `speaker_id`. The sample is encoded once, here.",
        request={"multipart/form-data": VoiceCreateSerializer},
        responses={200: VoiceSerializer, **ERRORS},
        examples=[
            OpenApiExample(
                "A voice (attach audio_sample; consent: the id of your consent)",
                value={
                    "name": "alice",
                    "consent": "cons_0123456789abcdef01234567",
                    "transcript": "What the sample says.",
                },
                request_only=True,
                media_type="multipart/form-data",
            )
        ],
    )
    async def post(self, request):
        serializer = VoiceCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        voice = await services.create_voice(
            owner=request.auth,
            name=data["name"],
            consent_id=data["consent"],
            sample=data["audio_sample"].read(),
            filename=data["audio_sample"].name or "sample",
            transcript=data.get("transcript") or "",
            speaker_id=data["speaker_id"],
        )
        return Response(VoiceSerializer(voice).data)


class VoiceDetailView(APIView):
    @extend_schema(operation_id="retrieveVoice", summary="A voice", responses={200: VoiceSerializer, **ERRORS})
    def get(self, request, voice_id: str):
        return Response(VoiceSerializer(selectors.get_voice(owner=request.auth, voice_id=voice_id)).data)

    @extend_schema(
        operation_id="deleteVoice",
        summary="Delete a voice (its consent recording stays)",
        responses={200: VoiceDeletedSerializer, **ERRORS},
    )
    def delete(self, request, voice_id: str):
        deleted = services.delete_voice(owner=request.auth, voice_id=voice_id)
        return Response(VoiceDeletedSerializer({"id": deleted}).data)


class VoiceSampleView(APIView):
    @extend_schema(
        operation_id="retrieveVoiceSample",
        summary="A voice's audio sample, as it was uploaded",
        responses={(200, "audio/*"): OpenApiResponse(OpenApiTypes.BINARY, description="the sample"), **ERRORS},
    )
    def get(self, request, voice_id: str):
        voice = selectors.get_voice(owner=request.auth, voice_id=voice_id)
        data = services.read_sample(voice=voice)
        content_type = mimetypes.guess_type(voice.sample.name)[0] or "application/octet-stream"
        return HttpResponse(data, content_type=content_type, headers={"Cache-Control": "private, max-age=3600"})


class AudioModelListView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="listAudioModels",
        summary="Speech models, in the shape Open WebUI reads",
        responses=AudioModelListSerializer,
    )
    def get(self, request):
        return Response(AudioModelListSerializer({"models": [{"id": model_id} for model_id in MODEL_IDS]}).data)
