from django.contrib import admin, messages

from .models import ApiKey
from .services import set_secret


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "prefix", "active", "created_at", "last_used_at"]
    list_filter = ["active", "created_at", "last_used_at"]
    list_editable = ["active"]
    search_fields = ["name", "prefix"]
    fields = ["name", "active", "prefix", "created_at", "last_used_at"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]
    actions = ["deactivate"]

    def save_model(self, request, obj: ApiKey, form, change: bool) -> None:
        secret = None if change else set_secret(key=obj)
        super().save_model(request, obj, form, change)
        if secret:
            messages.warning(
                request,
                f"The secret of '{obj.name}' is {secret} . Copy it now: it is stored hashed and not shown again.",
            )

    @admin.action(description="Deactivate the selected keys (requests with them get 401)")
    def deactivate(self, request, queryset) -> None:
        updated = queryset.update(active=False)
        self.message_user(request, f"{updated} key(s) deactivated.")
