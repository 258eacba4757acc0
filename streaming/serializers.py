"""Input validation for streaming sessions and their text. `null` means "not given"; unknown fields are ignored."""

from __future__ import annotations

from rest_framework import serializers

from speech.audio import FORMATS
from speech.serializers import (
    MAX_INPUT_CHARS,
    MAX_TRANSCRIPT_CHARS,
    AudioUploadField,
    DefaultSamplingFields,
    SpeakerField,
    max_audio_length_field,
    require_sample_or_voice,
)
from speech.voice import SAMPLE_SPEAKER


class StreamingSessionSerializer(DefaultSamplingFields):
    audio_file = AudioUploadField(required=False, allow_null=True, help_text="The voice sample, 1-30 s.")
    voice_id = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, help_text="A saved voice's id or name instead of a sample."
    )
    context_text = serializers.CharField(
        max_length=MAX_TRANSCRIPT_CHARS,
        required=False,
        allow_blank=True,
        default="",
        help_text="The sample's transcript.",
    )
    speaker_id = SpeakerField(default=SAMPLE_SPEAKER)
    output_format = serializers.ChoiceField(choices=FORMATS, default="wav")
    max_audio_length_ms = max_audio_length_field(
        required=False,
        allow_null=True,
        help_text="Cap on each segment's audio; by default a generous cap from the segment's length.",
    )

    def validate(self, attrs):
        return require_sample_or_voice(attrs)


class StreamingSessionCreatedSerializer(serializers.Serializer):
    session_id = serializers.UUIDField(source="id")
    message = serializers.CharField(default="Streaming session created successfully", read_only=True)
    expires_at = serializers.DateTimeField()


class TextChunkSerializer(serializers.Serializer):
    """A chunk of text for a session (a WebSocket text message)."""

    text_chunk = serializers.CharField(
        max_length=MAX_INPUT_CHARS, allow_blank=True, allow_null=True, trim_whitespace=False, required=False
    )
    is_final = serializers.BooleanField(required=False, allow_null=True, help_text="Speak everything left.")

    def validate(self, attrs):
        attrs["is_final"] = bool(attrs.get("is_final"))
        if attrs.get("text_chunk") is None:
            if not attrs["is_final"]:
                raise serializers.ValidationError({"text_chunk": "This field is required."})
            attrs["text_chunk"] = ""
        return attrs


class StreamTextSerializer(TextChunkSerializer):
    session_id = serializers.CharField()
