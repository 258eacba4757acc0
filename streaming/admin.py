from django.contrib import admin
from django.utils import timezone

from voices.admin import audio_player

from .models import StreamingSession


class ExpiredFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("live", "live"), ("expired", "expired")]

    def queryset(self, request, queryset):
        if self.value() == "live":
            return queryset.filter(expires_at__gt=timezone.now())
        if self.value() == "expired":
            return queryset.filter(expires_at__lte=timezone.now())
        return queryset


@admin.register(StreamingSession)
class StreamingSessionAdmin(admin.ModelAdmin):
    """Sessions are made through the API; here they are inspected and deleted."""

    list_display = ["id", "owner", "voice", "output_format", "created_at", "expires_at", "is_live", "player"]
    list_filter = [ExpiredFilter, "output_format", "created_at", "owner"]
    search_fields = ["id", "voice__id", "voice__name", "voice_sample_text", "text_buffer", "previous_text"]
    fields = [
        "id", "owner", "voice", "voice_sample", "player", "voice_sample_text", "speaker_id", "temperature", "topk",
        "seed", "max_audio_length_ms", "output_format", "text_buffer", "previous_text", "segments_spoken", "created_at",
        "expires_at",
    ]  # fmt: skip
    readonly_fields = fields
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("owner", "voice").defer("voice_codes", "previous_codes")

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(boolean=True, description="live")
    def is_live(self, session: StreamingSession) -> bool:
        return not session.expired

    @admin.display(description="voice sample")
    def player(self, session: StreamingSession) -> str:
        return audio_player(session.voice_sample)
