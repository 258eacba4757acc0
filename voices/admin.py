from django.contrib import admin
from django.db.models import Count
from django.utils.html import format_html

from .models import Voice, VoiceConsent


def audio_player(field, *, preload: str = "none") -> str:
    """An <audio> player for a stored file (empty when there is none); the admins of clips and sessions use it."""
    if not field:
        return "—"
    return format_html('<audio controls preload="{}" src="{}"></audio>', preload, field.url)


class VoiceInline(admin.TabularInline):
    model = Voice
    fields = ["name", "owner", "shared", "builtin_name", "created_at"]
    readonly_fields = fields
    show_change_link = True
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(VoiceConsent)
class VoiceConsentAdmin(admin.ModelAdmin):
    list_display = ["name", "id", "language", "owner", "voice_count", "created_at", "player"]
    list_filter = ["language", "created_at", "owner"]
    search_fields = ["id", "name", "language", "owner__name"]
    fields = ["id", "name", "language", "owner", "recording", "player", "created_at"]
    readonly_fields = ["id", "created_at", "player"]
    date_hierarchy = "created_at"
    inlines = [VoiceInline]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("owner").annotate(voice_total=Count("voices"))

    @admin.display(description="voices", ordering="voice_total")
    def voice_count(self, consent: VoiceConsent) -> int:
        return consent.voice_total

    @admin.display(description="recording")
    def player(self, consent: VoiceConsent) -> str:
        return audio_player(consent.recording)


@admin.register(Voice)
class VoiceAdmin(admin.ModelAdmin):
    """Voices are made through the API (the engine encodes the sample); here they are named, shared and mapped."""

    list_display = ["name", "id", "owner", "shared", "builtin_name", "consent", "created_at", "player"]
    list_editable = ["shared"]
    list_filter = ["shared", "builtin_name", "created_at", "consent__language", "owner"]
    search_fields = ["id", "name", "transcript", "consent__id", "consent__name", "owner__name"]
    fields = [
        "id", "name", "shared", "builtin_name", "transcript", "speaker_id", "consent", "owner",
        "sample", "player", "codes_summary", "created_at",
    ]  # fmt: skip
    readonly_fields = ["id", "consent", "owner", "sample", "player", "codes_summary", "created_at"]
    date_hierarchy = "created_at"
    actions = ["share", "unshare"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("owner", "consent").defer("codes")

    def has_add_permission(self, request) -> bool:
        return False

    @admin.display(description="sample")
    def player(self, voice: Voice) -> str:
        return audio_player(voice.sample)

    @admin.display(description="prepared codes")
    def codes_summary(self, voice: Voice) -> str:
        return (
            f"{voice.codebooks} codebooks x {voice.frames} frames ({voice.frames * 0.08:.2f} s), by {voice.codes_model}"
        )

    @admin.action(description="Share with every key")
    def share(self, request, queryset) -> None:
        self.message_user(request, f"{queryset.update(shared=True)} voice(s) shared with every key.")

    @admin.action(description="Stop sharing with every key")
    def unshare(self, request, queryset) -> None:
        self.message_user(request, f"{queryset.update(shared=False)} voice(s) no longer shared.")
