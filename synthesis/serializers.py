"""Input validation for the speech endpoints. `null` means "not given"; unknown fields are ignored."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .audio import FORMATS, MAX_SAMPLE_BYTES
from .errors import AudioTooLarge

MODEL_IDS = ("csm-1b", "tts-1", "tts-1-hd", "gpt-4o-mini-tts")
MAX_INPUT_CHARS = 4096
MAX_AUDIO_LENGTH_MS = 120_000
MAX_TRANSCRIPT_CHARS = 2000  # a 30 s sample's transcript is a few hundred characters


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "example": "alloy"},
            {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]},
        ]
    }
)
class VoiceField(serializers.Field):
    """A voice name or id, or `{"id": "voice_..."}`; returned as a string."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            data = data.get("id")
        if not isinstance(data, str) or not data.strip():
            raise serializers.ValidationError('Give a voice name or id, or {"id": "voice_..."}.')
        return data.strip()

    def to_representation(self, value):
        return value


class AudioUploadField(serializers.FileField):
    """An uploaded audio file. Over the sample limit it is refused with 413, before any other check."""

    def to_internal_value(self, data):
        if getattr(data, "size", 0) > MAX_SAMPLE_BYTES:
            raise AudioTooLarge(
                f"The {self.field_name} file is larger than {MAX_SAMPLE_BYTES // 2**20} MiB.", param=self.field_name
            )
        return super().to_internal_value(data)


class SamplingFields(serializers.Serializer):
    temperature = serializers.FloatField(min_value=0.0, max_value=2.0, required=False, allow_null=True)
    topk = serializers.IntegerField(min_value=1, max_value=2048, required=False, allow_null=True)
    max_audio_length_ms = serializers.IntegerField(
        min_value=80, max_value=MAX_AUDIO_LENGTH_MS, required=False, allow_null=True
    )


class SpeechSerializer(SamplingFields):
    model = serializers.ChoiceField(choices=MODEL_IDS)
    input = serializers.CharField(max_length=MAX_INPUT_CHARS, trim_whitespace=True)
    voice = VoiceField(help_text='A saved voice id or name, {"id": "voice_..."}, or an OpenAI built-in name.')
    response_format = serializers.ChoiceField(choices=FORMATS, required=False, allow_null=True)
    speed = serializers.FloatField(min_value=0.25, max_value=4.0, required=False, allow_null=True)
    instructions = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    stream_format = serializers.ChoiceField(choices=("audio", "sse"), required=False, allow_null=True)
    stream = serializers.BooleanField(required=False, allow_null=True)
    voice_sample = serializers.CharField(required=False, allow_null=True, help_text="Base64 audio, 1-30 s.")
    voice_sample_text = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=MAX_TRANSCRIPT_CHARS
    )
    speaker_id = serializers.IntegerField(min_value=0, max_value=65535, required=False, allow_null=True)


class VoiceCloneSerializer(SamplingFields):
    text = serializers.CharField(max_length=MAX_INPUT_CHARS)
    audio_file = AudioUploadField(required=False, allow_null=True)
    voice_id = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    context_text = serializers.CharField(required=False, allow_blank=True, default="", max_length=MAX_TRANSCRIPT_CHARS)
    speaker_id = serializers.IntegerField(min_value=0, max_value=65535, default=999)
    temperature = serializers.FloatField(min_value=0.0, max_value=2.0, default=0.6)
    topk = serializers.IntegerField(min_value=1, max_value=2048, default=20)
    max_audio_length_ms = serializers.IntegerField(min_value=80, max_value=MAX_AUDIO_LENGTH_MS, default=15_000)
    output_format = serializers.ChoiceField(choices=FORMATS, default="wav")
    stream = serializers.BooleanField(default=False)

    def validate(self, attrs):
        if not attrs.get("audio_file") and not attrs.get("voice_id"):
            raise serializers.ValidationError({"audio_file": "Upload a voice sample (or give voice_id)."})
        return attrs


class VoiceCloneResultSerializer(serializers.Serializer):
    audio_url = serializers.CharField()
    duration_seconds = serializers.FloatField()


class ModelSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField()
    created = serializers.IntegerField()
    owned_by = serializers.CharField()


class ModelListSerializer(serializers.Serializer):
    object = serializers.CharField()
    data = ModelSerializer(many=True)


class ErrorDetailSerializer(serializers.Serializer):
    message = serializers.CharField()
    type = serializers.CharField()
    param = serializers.CharField(allow_null=True)
    code = serializers.CharField(allow_null=True)


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()
