"""The retention command deletes expired clips, row and file together."""

import os
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.utils import timezone

from synthesis.models import Clip


def make_clip(age_days: float) -> Clip:
    clip = Clip(text="hi", output_format="wav", duration_seconds=1.0)
    clip.file.save(f"{age_days}-clip.wav", ContentFile(b"RIFF"), save=False)
    clip.voice_sample.save(f"{age_days}-sample.wav", ContentFile(b"RIFF"), save=False)
    clip.save()
    Clip.objects.filter(pk=clip.pk).update(created_at=timezone.now() - timedelta(days=age_days))
    return clip


@pytest.mark.django_db
def test_purge_deletes_only_expired_clips_with_their_files(settings, capsys):
    settings.CSM_CLIP_RETENTION_DAYS = 7
    old, fresh = make_clip(8), make_clip(1)
    old_files = [old.file.path, old.voice_sample.path]
    call_command("purge_clips")
    assert list(Clip.objects.all()) == [fresh]
    assert not any(os.path.exists(path) for path in old_files)
    assert os.path.exists(fresh.file.path)
    assert "Deleted 1 clip" in capsys.readouterr().out


@pytest.mark.django_db
def test_days_option_overrides_the_setting():
    make_clip(2)
    call_command("purge_clips", days=1)
    assert not Clip.objects.exists()
