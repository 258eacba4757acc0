"""The admin of voices and consents. Voices and consents are made here by the same services as through the API
(the sample is checked and encoded by the engine); a refusal is a form error. Forms validate and call one
service; the rules live in voices.services."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Count
from django.template.response import TemplateResponse
from django.utils.html import format_html

from accounts.models import ApiKey
from speech.errors import ServiceError
from speech.voice import DEFAULT_SPEAKER

from . import selectors, services
from .models import Voice, VoiceConsent


def audio_player(field, *, preload: str = "none") -> str:
    """An <audio> player for a stored file (empty when there is none); the admins of clips and sessions use it."""
    if not field:
        return "—"
    return format_html('<audio controls preload="{}" src="{}"></audio>', preload, field.url)


def _show_error(form: forms.Form, error: ServiceError, fields: dict[str, str]) -> None:
    """A service's refusal as the error of the form field it is about (`fields` maps the API's parameter names
    to the form's), else of the whole form."""
    form.add_error(fields.get(error.param or ""), error.message)


def _read(upload) -> tuple[bytes, str]:
    return upload.read(), upload.name or "upload"


class ConsentAddForm(forms.ModelForm):
    """A consent made by services.create_consent: the recording is checked as the API checks it."""

    class Meta:
        model = VoiceConsent
        fields = ["name", "language", "owner", "recording"]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        recording, filename = _read(data["recording"])
        try:
            self.instance = async_to_sync(services.create_consent)(
                owner=data.get("owner"), name=data["name"], language=data["language"], recording=recording,
                filename=filename,
            )  # fmt: skip
        except ServiceError as error:
            _show_error(self, error, {"recording": "recording", "name": "name", "language": "language"})
        return data

    def save(self, commit: bool = True) -> VoiceConsent:
        return self.instance  # saved by the service in clean()

    def save_m2m(self) -> None:
        pass


class VoiceAddForm(forms.ModelForm):
    """A voice made by services.create_voice (the sample encoded by the engine, as the API does), with an
    existing consent of the same owner or a consent recording uploaded here."""

    sample = forms.FileField(help_text="The voice sample: audio, 1-30 s, at most 10 MiB.")
    transcript = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, help_text="What the sample says (better cloning)."
    )
    speaker_id = forms.IntegerField(min_value=0, max_value=65535, initial=DEFAULT_SPEAKER)
    consent = forms.ModelChoiceField(
        VoiceConsent.objects.all(), required=False, help_text="A consent of the same owner, or upload one below."
    )
    consent_recording = forms.FileField(required=False, help_text="A new consent recording (instead of choosing one).")
    consent_language = forms.CharField(max_length=35, initial="en-US", help_text="BCP 47 tag of the consent phrase.")

    class Meta:
        model = Voice
        fields = ["name", "owner"]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        if bool(data.get("consent")) == bool(data.get("consent_recording")):
            self.add_error("consent", "Choose a consent or upload a consent recording (one of them).")
            return data
        sample, filename = _read(data["sample"])
        voice = {
            "owner": data.get("owner"), "name": data["name"], "sample": sample, "filename": filename,
            "transcript": data.get("transcript") or "", "speaker_id": data["speaker_id"],
        }  # fmt: skip
        try:
            if data.get("consent"):
                self.instance = async_to_sync(services.create_voice)(consent_id=data["consent"].pk, **voice)
            else:
                recording, recording_filename = _read(data["consent_recording"])
                self.instance = async_to_sync(services.create_voice_with_consent)(
                    consent_name=f"{data['name']} consent", consent_language=data["consent_language"],
                    recording=recording, recording_filename=recording_filename, **voice,
                )  # fmt: skip
        except ServiceError as error:
            fields = {
                "name": "name", "audio_sample": "sample", "consent": "consent", "recording": "consent_recording",
                "language": "consent_language",
            }  # fmt: skip
            _show_error(self, error, fields)
        return data

    def save(self, commit: bool = True) -> Voice:
        return self.instance  # saved by the service in clean()

    def save_m2m(self) -> None:
        pass


class VoiceChangeForm(forms.ModelForm):
    """The change form and the list's `shared` toggle: a rename or share whose name is taken is refused."""

    def clean(self):
        data = super().clean()
        voice = self.instance
        try:
            services.validate_voice_name(
                name=data.get("name", voice.name), owner=voice.owner, shared=data.get("shared", voice.shared),
                voice_id=voice.pk,
            )  # fmt: skip
        except ServiceError as error:
            self.add_error("name" if "name" in self.fields else None, error.message)
        return data


class VoiceListFormSet(forms.BaseModelFormSet):
    """The list's `shared` toggles: two voices with one name cannot be shared by the same submit either."""

    def clean(self) -> None:
        super().clean()
        shared: dict[str, Voice] = {}
        for form in self.forms:
            if not form.cleaned_data.get("shared"):
                continue
            voice = form.instance
            other = shared.setdefault(voice.name.lower(), voice)
            if other is not voice:
                raise forms.ValidationError(f"'{other.name}' and '{voice.name}' cannot both be shared: share one.")


class AssignToKeyForm(forms.Form):
    key = forms.ModelChoiceField(ApiKey.objects.all(), label="API key")


class AssignToKeyMixin:
    """The action "Assign to an API key...": a page to choose the key, then services.assign_to_key."""

    def _assign_to_key(self, request, queryset, consents):
        form = AssignToKeyForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            key = form.cleaned_data["key"]
            try:
                moved = services.assign_to_key(consents=consents, key=key)
            except ServiceError as error:
                self.message_user(request, error.message, messages.ERROR)
                return None
            self.message_user(
                request,
                f"Assigned to '{key.name}': {moved.consents} consent(s), {moved.voices} voice(s), {moved.clips} "
                f"clip(s) and {moved.sessions} streaming session(s).",
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Assign to an API key",
            "opts": self.model._meta,
            "form": form,
            "objects": queryset,
            "consents": consents,
            "action": request.POST["action"],
            "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
        }
        return TemplateResponse(request, "admin/voices/assign_to_key.html", context)


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
class VoiceConsentAdmin(AssignToKeyMixin, admin.ModelAdmin):
    list_display = ["name", "id", "language", "owner", "voice_count", "created_at", "player"]
    list_filter = ["language", "created_at", "owner"]
    search_fields = ["id", "name", "language", "owner__name"]
    fields = ["id", "name", "language", "owner", "recording", "player", "created_at"]
    readonly_fields = ["id", "owner", "recording", "created_at", "player"]
    date_hierarchy = "created_at"
    inlines = [VoiceInline]
    actions = ["assign_to_key"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("owner").annotate(voice_total=Count("voices"))

    def get_fields(self, request, obj=None):
        return ConsentAddForm.Meta.fields if obj is None else self.fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ConsentAddForm
        return super().get_form(request, obj, **kwargs)

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []  # a new consent has no voices yet

    def save_model(self, request, obj, form, change: bool) -> None:
        if change:  # an added consent was saved by the service
            super().save_model(request, obj, form, change)

    @admin.display(description="voices", ordering="voice_total")
    def voice_count(self, consent: VoiceConsent) -> int:
        return consent.voice_total

    @admin.display(description="recording")
    def player(self, consent: VoiceConsent) -> str:
        return audio_player(consent.recording)

    @admin.action(description="Assign to an API key... (with their voices, clips and sessions)")
    def assign_to_key(self, request, queryset):
        return self._assign_to_key(request, queryset, queryset)


@admin.register(Voice)
class VoiceAdmin(AssignToKeyMixin, admin.ModelAdmin):
    """Voices are added with the API's service (the engine encodes the sample); here they are also named,
    shared, mapped to built-in names and assigned to keys."""

    form = VoiceChangeForm
    list_display = ["name", "id", "owner", "shared", "builtin_name", "consent", "created_at", "player"]
    list_editable = ["shared"]
    list_filter = ["shared", "builtin_name", "created_at", "consent__language", "owner"]
    search_fields = ["id", "name", "transcript", "consent__id", "consent__name", "owner__name"]
    fields = [
        "id", "name", "shared", "builtin_name", "transcript", "speaker_id", "consent", "owner",
        "sample", "player", "codes_summary", "created_at",
    ]  # fmt: skip
    add_fields = [
        "name", "owner", "sample", "transcript", "speaker_id", "consent", "consent_recording", "consent_language"
    ]  # fmt: skip
    readonly_fields = ["id", "consent", "owner", "sample", "player", "codes_summary", "created_at"]
    date_hierarchy = "created_at"
    actions = ["share", "unshare", "assign_to_key"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("owner", "consent").defer("codes")

    def get_fields(self, request, obj=None):
        return self.add_fields if obj is None else self.fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = VoiceAddForm
        return super().get_form(request, obj, **kwargs)

    def get_changelist_form(self, request, **kwargs):
        kwargs.setdefault("form", VoiceChangeForm)
        return super().get_changelist_form(request, **kwargs)

    def get_changelist_formset(self, request, **kwargs):
        kwargs.setdefault("formset", VoiceListFormSet)
        return super().get_changelist_formset(request, **kwargs)

    def save_model(self, request, obj, form, change: bool) -> None:
        if change:  # an added voice was saved by the service
            super().save_model(request, obj, form, change)

    def changelist_view(self, request, extra_context=None):
        if request.method == "GET" and settings.CSM_REQUIRE_API_KEY:
            keyless = selectors.keyless_voices().filter(shared=False).count()
            if keyless:
                self.message_user(
                    request,
                    f"{keyless} voice(s) belong to no API key (made while keys were off): no request can use them. "
                    'Select them and choose "Assign to an API key...", or share them.',
                    messages.WARNING,
                )
        return super().changelist_view(request, extra_context)

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
        try:
            shared = services.share_voices(voices=queryset)
        except ServiceError as error:
            self.message_user(request, f"Nothing was shared: {error.message}", messages.ERROR)
            return
        self.message_user(request, f"{shared} voice(s) shared with every key.")

    @admin.action(description="Stop sharing with every key")
    def unshare(self, request, queryset) -> None:
        self.message_user(request, f"{queryset.update(shared=False)} voice(s) no longer shared.")

    @admin.action(description="Assign to an API key... (with their consents, clips and sessions)")
    def assign_to_key(self, request, queryset):
        consents = VoiceConsent.objects.filter(voices__in=queryset).distinct()
        return self._assign_to_key(request, queryset, consents)
