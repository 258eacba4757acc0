"""Input and output shapes of the speech endpoints. `null` means "not given"; unknown fields are ignored."""

from __future__ import annotations

from rest_framework import serializers

from speech.audio import FORMATS
from speech.runtime import MODEL_IDS
from speech.serializers import (
    MAX_INPUT_CHARS,
    MAX_TRANSCRIPT_CHARS,
    AudioUploadField,
    DefaultSamplingFields,
    NumberField,
    SamplingFields,
    SpeakerField,
    VoiceField,
    max_audio_length_field,
    require_sample_or_voice,
)
from speech.voice import DEFAULT_SPEAKER, SAMPLE_SPEAKER


class SpeechSerializer(SamplingFields):
    model = serializers.ChoiceField(choices=MODEL_IDS)
    input = serializers.CharField(max_length=MAX_INPUT_CHARS, trim_whitespace=True)
    voice = VoiceField(help_text='A saved voice id or name, {"id": "voice_..."}, or an OpenAI built-in name.')
    response_format = serializers.ChoiceField(choices=FORMATS, required=False, allow_null=True)
    speed = NumberField(min_value=0.25, max_value=4.0, required=False, allow_null=True)
    instructions = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    stream_format = serializers.ChoiceField(choices=("audio", "sse"), required=False, allow_null=True)
    stream = serializers.BooleanField(required=False, allow_null=True)
    voice_sample = serializers.CharField(required=False, allow_null=True, help_text="Base64 audio, 1-30 s.")
    voice_sample_text = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=MAX_TRANSCRIPT_CHARS
    )
    speaker_id = SpeakerField(default=DEFAULT_SPEAKER)


class VoiceCloneSerializer(DefaultSamplingFields):
    text = serializers.CharField(max_length=MAX_INPUT_CHARS)
    audio_file = AudioUploadField(
        required=False, allow_null=True, help_text="The voice sample: audio, 1-30 s, at most 10 MiB."
    )
    voice_id = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    context_text = serializers.CharField(required=False, allow_blank=True, default="", max_length=MAX_TRANSCRIPT_CHARS)
    speaker_id = SpeakerField(default=SAMPLE_SPEAKER)
    max_audio_length_ms = max_audio_length_field(default=15_000)
    output_format = serializers.ChoiceField(choices=FORMATS, default="wav")
    stream = serializers.BooleanField(default=False)

    def validate(self, attrs):
        return require_sample_or_voice(attrs)


class VoiceCloneResultSerializer(serializers.Serializer):
    audio_url = serializers.CharField()
    manifest_url = serializers.CharField(
        allow_null=True,
        help_text="The clip's sidecar C2PA manifest (opus, aac, pcm); null when the file embeds it (wav, mp3, flac).",
    )
    duration_seconds = serializers.FloatField()


class VerifySerializer(serializers.Serializer):
    file = AudioUploadField(help_text="The audio file to check, at most 10 MiB.")
    manifest = AudioUploadField(  # not audio: the field for its 10 MiB limit (413), which it shares with the file
        required=False,
        allow_null=True,
        help_text="Its sidecar manifest (a `.c2pa` file), for a file without one inside.",
    )


class ValidationStatusSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="A C2PA validation status code, e.g. assertion.dataHash.mismatch.")
    explanation = serializers.CharField()


class SignerSerializer(serializers.Serializer):
    common_name = serializers.CharField(allow_null=True)
    issuer = serializers.CharField(allow_null=True, help_text="The signing certificate's organization.")


class ManifestClaimsSerializer(serializers.Serializer):
    """What the active manifest says about the file."""

    title = serializers.CharField(allow_null=True)
    action = serializers.CharField(allow_null=True, help_text="c2pa.created for what this server makes.")
    digital_source_type = serializers.CharField(allow_null=True)
    software_agent = serializers.JSONField(allow_null=True, help_text="name, version and model.")
    when = serializers.CharField(allow_null=True, help_text="When it was made (ISO 8601, UTC).")
    clip_id = serializers.CharField(allow_null=True, help_text="The stored clip it is.")
    request_id = serializers.CharField(allow_null=True, help_text="The request that made it, for a file not stored.")
    voice_id = serializers.CharField(allow_null=True, help_text="Only where the operator includes voice ids.")
    consent_id = serializers.CharField(allow_null=True, help_text="Only where the operator includes voice ids.")
    claim_generator = serializers.JSONField()
    signer = SignerSerializer()


class VerificationSerializer(serializers.Serializer):
    """What `POST /v1/audio/verify` answers."""

    object = serializers.CharField(default="audio.verification", read_only=True)
    manifest_present = serializers.BooleanField(help_text="Whether a C2PA manifest was found.")
    embedded = serializers.BooleanField(help_text="Whether it is inside the file (not a sidecar).")
    valid = serializers.BooleanField(help_text="Signature valid and the file unchanged since it was signed.")
    signed_by_this_server = serializers.BooleanField(help_text="Valid, and signed with this server's certificate.")
    validation_status = ValidationStatusSerializer(many=True, help_text="What the C2PA library reported as not right.")
    claims = ManifestClaimsSerializer(allow_null=True)
    message = serializers.CharField(allow_blank=True)


class ModelSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField(default="model", read_only=True)
    created = serializers.IntegerField()
    owned_by = serializers.CharField(default="sesame", read_only=True)


class ModelListSerializer(serializers.Serializer):
    object = serializers.CharField(default="list", read_only=True)
    data = ModelSerializer(many=True)


class EndpointSerializer(serializers.Serializer):
    method = serializers.CharField()
    path = serializers.CharField()
    summary = serializers.CharField()


class ApiIndexSerializer(serializers.Serializer):
    """What `GET /v1/` answers: where the endpoints and the docs are."""

    object = serializers.CharField(default="api.index", read_only=True)
    name = serializers.CharField(default="csm-voice-api", read_only=True)
    models = serializers.ListField(child=serializers.CharField())
    docs = serializers.DictField(child=serializers.CharField(), help_text="Swagger UI, ReDoc and the schema.")
    endpoints = EndpointSerializer(many=True)
