"""The streaming sessions' admin pages (Django test client, logged in as a superuser)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from accounts.services import create_api_key
from streaming.models import StreamingSession

pytestmark = pytest.mark.django_db


@pytest.fixture
def sessions() -> tuple[StreamingSession, StreamingSession]:
    key, _ = create_api_key(name="agent")
    live = StreamingSession(id=uuid.uuid4(), owner=key, expires_at=timezone.now() + timedelta(hours=1))
    live.voice_sample.save("live.sample", ContentFile(b"RIFF"), save=False)
    live.save()
    expired = StreamingSession.objects.create(id=uuid.uuid4(), expires_at=timezone.now() - timedelta(seconds=1))
    return live, expired


def test_changelist_filters_and_change_page(admin_client, sessions):
    live, expired = sessions
    url = reverse("admin:streaming_streamingsession_changelist")
    html = admin_client.get(url).content.decode()
    assert str(live.pk) in html and str(expired.pk) in html
    assert f'<audio controls preload="none" src="{live.voice_sample.url}"></audio>' in html
    only_live = admin_client.get(url, {"state": "live"}).content.decode()
    assert str(live.pk) in only_live and str(expired.pk) not in only_live
    assert admin_client.get(url, {"q": str(live.pk)}).status_code == 200
    change = admin_client.get(reverse("admin:streaming_streamingsession_change", args=[live.pk]))
    assert change.status_code == 200
    assert 'name="text_buffer"' not in change.content.decode()  # read-only
    assert admin_client.get(reverse("admin:streaming_streamingsession_add")).status_code == 403
