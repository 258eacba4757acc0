"""Input and output shapes of the custom-voices API (OpenAI's `audio.voice_consent` and `audio.voice`)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from speech.serializers import MAX_TRANSCRIPT_CHARS, AudioUploadField, SpeakerField
from speech.voice import DEFAULT_SPEAKER

from .services import LANGUAGE_TAG


@extend_schema_field(OpenApiTypes.INT)
class UnixTimeField(serializers.Field):
    """A datetime (or a Unix time already) as Unix seconds."""

    def to_representation(self, value) -> int:
        return int(value) if isinstance(value, int | float) else int(value.timestamp())


class PageQuerySerializer(serializers.Serializer):
    after = serializers.CharField(
        required=False, allow_blank=True, help_text="List the objects after this id (the previous page's last_id)."
    )
    limit = serializers.IntegerField(min_value=1, max_value=100, default=20, help_text="1 to 100, default 20.")


class ConsentCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    language = serializers.RegexField(
        LANGUAGE_TAG,
        max_length=35,
        help_text="BCP 47 tag of the consent phrase, e.g. en-US.",
        error_messages={"invalid": "Give a BCP 47 language tag such as en-US."},
    )
    recording = AudioUploadField(help_text="The consent recording: audio, 1-30 s, at most 10 MiB.")


class ConsentUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)


class ConsentSerializer(serializers.Serializer):
    object = serializers.CharField(default="audio.voice_consent", read_only=True)
    id = serializers.CharField()
    name = serializers.CharField()
    language = serializers.CharField()
    created_at = UnixTimeField()


class ConsentListSerializer(serializers.Serializer):
    object = serializers.CharField(default="list", read_only=True)
    data = ConsentSerializer(many=True)
    first_id = serializers.CharField(allow_null=True)
    last_id = serializers.CharField(allow_null=True)
    has_more = serializers.BooleanField()


class ConsentDeletedSerializer(serializers.Serializer):
    id = serializers.CharField()
    object = serializers.CharField(default="audio.voice_consent", read_only=True)
    deleted = serializers.BooleanField(default=True, read_only=True)


class VoiceCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    audio_sample = AudioUploadField(help_text="The voice sample: audio, 1-30 s, at most 10 MiB.")
    consent = serializers.CharField(max_length=40, help_text="The id of a consent recording (cons_...).")
    type = serializers.ChoiceField(choices=["audio_sample"], required=False, allow_null=True)
    transcript = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, default="", max_length=MAX_TRANSCRIPT_CHARS
    )
    speaker_id = SpeakerField(default=DEFAULT_SPEAKER)


class VoiceSerializer(serializers.Serializer):
    """A saved voice (type `audio_sample`), or one of OpenAI's built-in names (type `builtin`)."""

    object = serializers.CharField(default="audio.voice", read_only=True)
    id = serializers.CharField()
    name = serializers.CharField()
    created_at = UnixTimeField()
    type = serializers.CharField(default="audio_sample", read_only=True, help_text="audio_sample or builtin.")


class VoiceNameSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()


class VoiceListSerializer(serializers.Serializer):
    object = serializers.CharField(default="list", read_only=True)
    data = VoiceSerializer(many=True)
    voices = VoiceNameSerializer(many=True, help_text="Ids and names, as Open WebUI reads them.")


class VoiceDeletedSerializer(serializers.Serializer):
    id = serializers.CharField()
    deleted = serializers.BooleanField(default=True, read_only=True)
    object = serializers.CharField(default="audio.voice.deleted", read_only=True)


class AudioModelSerializer(serializers.Serializer):
    id = serializers.CharField()


class AudioModelListSerializer(serializers.Serializer):
    models = AudioModelSerializer(many=True)
