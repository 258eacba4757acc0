"""Input fields every API shares (voices, samples, sampling), their limits, and the error body's shape."""

from __future__ import annotations

import math

from django.core.validators import ProhibitNullCharactersValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from .audio import MAX_SAMPLE_BYTES
from .engine.sampling import DEFAULT_TEMPERATURE, DEFAULT_TOPK, SEED_MAX
from .errors import AudioTooLarge

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

    # What a CharField refuses too: NUL and lone surrogates, which no database stores.
    default_validators = [ProhibitNullCharactersValidator(), ProhibitSurrogateCharactersValidator()]

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
        size = getattr(data, "size", 0) or 0
        if size > MAX_SAMPLE_BYTES:
            raise AudioTooLarge(
                f"The {self.field_name} file is {size:,} bytes; the limit is {MAX_SAMPLE_BYTES:,} bytes "
                f"({MAX_SAMPLE_BYTES // 2**20} MiB).",
                param=self.field_name,
            )
        return super().to_internal_value(data)


class NumberField(serializers.FloatField):
    """A float from a number or a numeric string; booleans (JSON's `true` is not 1.0), NaN and infinities
    are refused."""

    default_error_messages = {"invalid": "A number is required.", "not_finite": "A finite number is required."}

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            self.fail("not_finite")
        return value


def temperature_field(**kwargs) -> serializers.FloatField:
    return NumberField(min_value=0.0, max_value=2.0, **kwargs)


def topk_field(**kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=2048, **kwargs)


def seed_field(**kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(
        min_value=0,
        max_value=SEED_MAX,
        help_text=(
            f"0-{SEED_MAX}: the same seed, voice, text and parameters speak the same audio, alone or beside other "
            "requests, across restarts. Left out: random."
        ),
        **kwargs,
    )


def max_audio_length_field(**kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=80, max_value=MAX_AUDIO_LENGTH_MS, **kwargs)


class SpeakerField(serializers.IntegerField):
    """A speaker id, 0-65535. Left out or null, it is the field's `default`: callers always get a number."""

    def __init__(self, **kwargs) -> None:
        super().__init__(min_value=0, max_value=65535, allow_null=True, **kwargs)

    def validate_empty_values(self, data):
        if data is None:
            return True, self.get_default()
        return super().validate_empty_values(data)


class SamplingFields(serializers.Serializer):
    """Sampling settings that may be left out (the engine's defaults apply)."""

    temperature = temperature_field(required=False, allow_null=True)
    topk = topk_field(required=False, allow_null=True)
    max_audio_length_ms = max_audio_length_field(required=False, allow_null=True)
    seed = seed_field(required=False, allow_null=True)


class DefaultSamplingFields(serializers.Serializer):
    """Sampling settings with the defaults filled in (they are stored with what they made)."""

    temperature = temperature_field(default=DEFAULT_TEMPERATURE)
    topk = topk_field(default=DEFAULT_TOPK)
    seed = seed_field(required=False, allow_null=True)


def require_sample_or_voice(attrs: dict, *, sample: str = "audio_file", voice: str = "voice_id") -> dict:
    """Validates that a request names exactly one voice: an uploaded sample or a saved voice, never both."""
    if attrs.get(sample) and attrs.get(voice):
        raise serializers.ValidationError({voice: f"Give either {sample} or {voice}, not both."})
    if not attrs.get(sample) and not attrs.get(voice):
        raise serializers.ValidationError({sample: f"Upload a voice sample (or give {voice})."})
    return attrs


class ErrorDetailSerializer(serializers.Serializer):
    message = serializers.CharField()
    type = serializers.CharField()
    param = serializers.CharField(allow_null=True)
    code = serializers.CharField(allow_null=True)


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


def error_responses(*statuses: int) -> dict:
    """The schema's error responses for these statuses."""
    return {status: ErrorSerializer for status in statuses}
