"""Housekeeping without cron (issue 14): the server's periodic round deletes expired sessions and clips and old
media files that no row refers to, keeps everything else, and runs in one process at a time."""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta

import pytest
import torch
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connections
from django.utils import timezone

from config import housekeeping
from config.housekeeping import run_housekeeping, start_housekeeping, stop_housekeeping
from streaming.models import StreamingSession
from synthesis.models import Clip
from voices.models import Voice, VoiceConsent

pytestmark = pytest.mark.django_db(transaction=True)  # the lock test runs a round in a second thread


def make_session(expires_in: timedelta) -> StreamingSession:
    session = StreamingSession(expires_at=timezone.now() + expires_in)
    session.voice_sample.save("sample.wav", ContentFile(b"RIFF"), save=False)
    session.save()
    return session


def make_clip(age: timedelta) -> Clip:
    clip = Clip(text="hi", output_format="wav", duration_seconds=1.0)
    clip.file.save("clip.wav", ContentFile(b"RIFF"), save=False)
    clip.save()
    Clip.objects.filter(pk=clip.pk).update(created_at=timezone.now() - age)
    return clip


def make_voice() -> Voice:
    consent = VoiceConsent(name="consent", language="en-US")
    consent.recording.save("consent.wav", ContentFile(b"RIFF"), save=False)
    consent.save()
    voice = Voice(name=f"voice-{consent.pk}", consent=consent)
    voice.set_codes(torch.zeros(1, 1, dtype=torch.int64), model="tiny-random")
    voice.sample.save("sample.wav", ContentFile(b"RIFF"), save=False)
    voice.save()
    return voice


def saved_file(folder: str, age: timedelta) -> str:
    """A file with no row, last modified `age` ago."""
    name = default_storage.save(f"{folder}/orphan.wav", ContentFile(b"RIFF"))
    age_file(name, age)
    return name


def age_file(name: str, age: timedelta) -> None:
    then = (timezone.now() - age).timestamp()
    os.utime(default_storage.path(name), (then, then))


def test_expired_sessions_are_deleted_with_their_samples_and_live_ones_kept():
    expired, live = make_session(timedelta(seconds=-1)), make_session(timedelta(hours=1))
    report = run_housekeeping()
    assert report.sessions == 1
    assert list(StreamingSession.objects.all()) == [live]
    assert not default_storage.exists(expired.voice_sample.name)
    assert default_storage.exists(live.voice_sample.name)


def test_expired_clips_are_deleted_with_their_files_and_fresh_ones_kept(settings):
    settings.CSM_CLIP_RETENTION_DAYS = 7
    old, fresh = make_clip(timedelta(days=8)), make_clip(timedelta(days=1))
    report = run_housekeeping()
    assert report.clips == 1
    assert list(Clip.objects.all()) == [fresh]
    assert not default_storage.exists(old.file.name)
    assert default_storage.exists(fresh.file.name)


@pytest.mark.parametrize("folder", ["clips", "samples", "sessions", "voices", "consents"])
def test_an_orphan_file_older_than_the_threshold_is_deleted_and_a_new_one_kept(settings, folder):
    settings.CSM_ORPHAN_FILE_AGE_SECONDS = 86_400
    old = saved_file(folder, timedelta(days=2))
    new = saved_file(folder, timedelta(hours=1))
    report = run_housekeeping()
    assert report.orphan_files == [old]
    assert not default_storage.exists(old)
    assert default_storage.exists(new)


def test_old_files_with_their_rows_are_kept(settings):
    settings.CSM_ORPHAN_FILE_AGE_SECONDS = 86_400
    clip, session, voice = make_clip(timedelta(days=1)), make_session(timedelta(hours=1)), make_voice()
    names = [clip.file.name, session.voice_sample.name, voice.sample.name, voice.consent.recording.name]
    for name in names:
        age_file(name, timedelta(days=30))
    assert run_housekeeping().orphan_files == []
    assert all(default_storage.exists(name) for name in names)


def test_a_round_is_skipped_while_another_holds_the_lock(monkeypatch):
    """Two rounds at once (threads here; replicas in production, with the same lock): the second is skipped."""
    inside, release = threading.Event(), threading.Event()
    purge = housekeeping.purge_expired_sessions

    def slow_purge() -> int:
        inside.set()
        release.wait(30)
        return purge()

    monkeypatch.setattr(housekeeping, "purge_expired_sessions", slow_purge)
    reports = []

    def first_round() -> None:
        try:
            reports.append(run_housekeeping())
        finally:
            connections.close_all()

    make_session(timedelta(seconds=-1))
    first = threading.Thread(target=first_round)
    first.start()
    assert inside.wait(30)
    try:
        assert run_housekeeping() is None  # the lock is held: nothing done
        assert StreamingSession.objects.count() == 1
    finally:
        release.set()
        first.join(30)
    assert reports[0].sessions == 1
    monkeypatch.setattr(housekeeping, "purge_expired_sessions", purge)
    assert run_housekeeping() is not None  # released


def test_the_server_thread_runs_rounds_until_stopped(settings):
    settings.CSM_HOUSEKEEPING_INTERVAL_SECONDS = 1
    make_session(timedelta(seconds=-1))
    start_housekeeping()
    try:
        deadline = time.monotonic() + 30
        while StreamingSession.objects.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop_housekeeping()
    assert not StreamingSession.objects.exists()


def test_an_interval_of_zero_turns_it_off(settings):
    settings.CSM_HOUSEKEEPING_INTERVAL_SECONDS = 0
    start_housekeeping()
    assert housekeeping._thread is None
