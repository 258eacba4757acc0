from django.contrib import admin, messages

from speech.content_credentials import DEVELOPMENT_NOTICE, credentials
from speech.errors import SigningUnavailable
from voices.admin import audio_player

from .models import Clip


@admin.register(Clip)
class ClipAdmin(admin.ModelAdmin):
    list_display = ["created_at", "short_text", "output_format", "duration_seconds", "owner", "voice", "player"]
    list_filter = ["output_format", "created_at", "owner"]
    search_fields = ["text", "voice_sample_text", "voice__id", "voice__name", "consent__id"]
    readonly_fields = [
        "id", "text", "parameters", "output_format", "voice_sample", "voice_sample_text",
        "file", "manifest", "duration_seconds", "owner", "voice", "consent", "created_at", "player", "sample_player",
    ]  # fmt: skip
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("owner", "voice")

    @admin.display(description="text")
    def short_text(self, clip: Clip) -> str:
        return clip.text if len(clip.text) <= 80 else clip.text[:77] + "..."

    @admin.display(description="audio")
    def player(self, clip: Clip) -> str:
        return audio_player(clip.file)

    @admin.display(description="voice sample")
    def sample_player(self, clip: Clip) -> str:
        return audio_player(clip.voice_sample)

    def has_add_permission(self, request) -> bool:
        return False

    def changelist_view(self, request, extra_context=None):
        _signing_notice(request)
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        _signing_notice(request)
        return super().change_view(request, object_id, form_url, extra_context)


def _signing_notice(request) -> None:
    """Tells the admin when the clips' Content Credentials are signed with the development certificate (their
    signatures come from no trusted authority) or cannot be signed at all."""
    try:
        development = credentials().development
    except SigningUnavailable as error:
        messages.error(request, f"Content Credentials cannot be signed: {error}")
        return
    if development:
        messages.warning(request, DEVELOPMENT_NOTICE)
