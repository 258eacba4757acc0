"""Files saved with their database row: never a file in media without its row."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db.models.fields.files import FieldFile


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
