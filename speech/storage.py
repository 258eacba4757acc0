"""Files saved with their database row (never a file in media without its row), and the sweep of old orphans."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import PurePosixPath

from django.apps import apps
from django.core.files.storage import Storage
from django.db import models
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from .errors import NotFound


@contextmanager
def saved_together(*files: FieldFile) -> Iterator[None]:
    """Around saving `files` and then their row: when anything fails, the files saved so far are deleted."""
    try:
        yield
    except BaseException:
        for file in files:
            if file.name:
                file.delete(save=False)
        raise


def read_file(file: FieldFile, *, missing: str) -> bytes:
    """A stored file, whole; NotFound(`missing`) when it is gone from storage."""
    try:
        with file.open("rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise NotFound(missing) from None


def purge_orphan_files(*, older_than: timedelta) -> list[str]:
    """Deletes the media files that no row refers to and that are older than `older_than`; returns their names.

    The folders swept are those the models' file fields save into (clips/, samples/, sessions/, voices/,
    consents/, ...), listed and deleted through each field's storage (local folders or S3 alike). The age
    threshold keeps a file whose row is still being written: `saved_together` saves the file first.
    """
    fields = [
        (model, field)
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if isinstance(field, models.FileField)
    ]
    referenced = {
        name
        for model, field in fields
        for name in model._default_manager.exclude(**{field.name: ""}).values_list(field.name, flat=True)
    }
    cutoff = timezone.now() - older_than
    deleted = []
    for storage, folder in {(field.storage, _top_folder(model, field)) for model, field in fields}:
        if folder is None:
            continue
        for name in _walk(storage, folder):
            if name not in referenced and storage.get_modified_time(name) < cutoff:
                storage.delete(name)
                deleted.append(name)
    return deleted


def _top_folder(model: type[models.Model], field: models.FileField) -> str | None:
    """The top-level folder a field saves into: its upload_to, or the folder its upload_to function gives a new
    row; None when it saves into the storage's root (never swept: other files may live there)."""
    parts = PurePosixPath(field.generate_filename(model(), "probe.bin")).parts
    return parts[0] if len(parts) > 1 else None


def _walk(storage: Storage, folder: str) -> Iterator[str]:
    try:
        folders, files = storage.listdir(folder)
    except FileNotFoundError:  # a local folder nothing was saved into yet
        return
    for name in files:
        yield f"{folder}/{name}"
    for name in folders:
        yield from _walk(storage, f"{folder}/{name}")
