"""Input and output shapes of the custom-voices API (OpenAI's `audio.voice_consent` and `audio.voice`)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from speech.serializers import MAX_TRANSCRIPT_CHARS, AudioUploadField, speaker_field


@extend_schema_field(OpenApiTypes.INT)
class UnixTimeField(serializers.Field):
    """A datetime (or a Unix time already) as Unix seconds."""

    def to_representation(self, value) -> int:
        return int(value) if isinstance(value, int | float) else int(value.timestamp())


class PageQuerySerializer(serializers.Serializer):
    after = serializers.CharField(required=False, allow_blank=True)
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20)


class ConsentCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    language = serializers.CharField(max_length=35, help_text="BCP 47 tag of the consent phrase, e.g. en-US.")
    recording = AudioUploadField(help_text="The consent recording: audio, 1-30 s, at most 10 MiB.")


class ConsentUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)


class ConsentSerializer(serializers.Serializer):
    object = serializers.CharField(default="audio.voice_consent")
    id = serializers.CharField()
    name = serializers.CharField()
    language = serializers.CharField()
    created_at = UnixTimeField()


class ConsentListSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    data = ConsentSerializer(many=True)
    first_id = serializers.CharField(allow_null=True)
    last_id = serializers.CharField(allow_null=True)
    has_more = serializers.BooleanField()


class ConsentDeletedSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField(default="audio.voice_consent")
    deleted = serializers.BooleanField(default=True)


class VoiceCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    audio_sample = AudioUploadField(help_text="The voice sample: audio, 1-30 s, at most 10 MiB.")
    consent = serializers.CharField(max_length=40, help_text="The id of a consent recording (cons_...).")
    type = serializers.ChoiceField(choices=["audio_sample"], required=False, allow_null=True)
    transcript = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, default="", max_length=MAX_TRANSCRIPT_CHARS
    )
    speaker_id = speaker_field(required=False, allow_null=True)


class VoiceSerializer(serializers.Serializer):
    """A saved voice (type `audio_sample`), or one of OpenAI's built-in names (type `builtin`)."""

    object = serializers.CharField(default="audio.voice")
    id = serializers.CharField()
    name = serializers.CharField()
    created_at = UnixTimeField()
    type = serializers.ChoiceField(choices=["audio_sample", "builtin"], default="audio_sample")


class VoiceNameSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()


class VoiceListSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    data = VoiceSerializer(many=True)
    voices = VoiceNameSerializer(many=True, help_text="Ids and names, as Open WebUI reads them.")


class VoiceDeletedSerializer(serializers.Serializer):
    id = serializers.CharField()
    deleted = serializers.BooleanField(default=True)
    object = serializers.CharField(default="audio.voice.deleted")


class AudioModelSerializer(serializers.Serializer):
    id = serializers.CharField()


class AudioModelListSerializer(serializers.Serializer):
    models = AudioModelSerializer(many=True)
