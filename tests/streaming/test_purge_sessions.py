"""Expired sessions are deleted with their samples; live ones stay."""

import os
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.utils import timezone

from streaming.models import StreamingSession


def make_session(expires_in: timedelta) -> StreamingSession:
    session = StreamingSession(expires_at=timezone.now() + expires_in)
    session.voice_sample.save("sample.wav", ContentFile(b"RIFF"), save=False)
    session.save()
    return session


@pytest.mark.django_db
def test_purge_sessions_deletes_expired_sessions_and_samples(capsys):
    expired, live = make_session(timedelta(seconds=-1)), make_session(timedelta(hours=1))
    sample = expired.voice_sample.path
    call_command("purge_sessions")
    assert list(StreamingSession.objects.all()) == [live]
    assert not os.path.exists(sample)
    assert os.path.exists(live.voice_sample.path)
    assert "Deleted 1 expired" in capsys.readouterr().out
