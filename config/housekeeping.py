"""The server's own housekeeping, so that nothing needs cron.

Every CSM_HOUSEKEEPING_INTERVAL_SECONDS (0: never) a thread of each server process deletes the expired streaming
sessions and clips (the services the purge_* commands use) and the media files that no row refers to and that are
older than CSM_ORPHAN_FILE_AGE_SECONDS. With several replicas, one runs at a time: the others find the lock taken
and skip that round. The lock is PostgreSQL's advisory lock (released when its connection ends, so a replica that
dies holding it frees it); on SQLite, which one host serves, a lock on a file beside the database.
"""

from __future__ import annotations

import fcntl
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, connections

from speech.storage import purge_orphan_files
from streaming.services import purge_expired_sessions
from synthesis.services import purge_expired_clips

logger = logging.getLogger(__name__)

# pg_try_advisory_lock's key: any number other code does not use for its own advisory locks.
ADVISORY_LOCK_KEY = 0x63736D_686B  # "csm", "hk"

_started = threading.Lock()
_thread: threading.Thread | None = None
_stop = threading.Event()


@dataclass(frozen=True)
class Report:
    sessions: int
    clips: int
    orphan_files: list[str]


def run_housekeeping() -> Report | None:
    """One round: purges what has expired and the old orphan files. None when another process (or thread) holds
    the lock, and so runs the round itself."""
    with housekeeping_lock() as acquired:
        if not acquired:
            return None
        return Report(
            sessions=purge_expired_sessions(),
            clips=purge_expired_clips(),
            orphan_files=purge_orphan_files(older_than=timedelta(seconds=settings.CSM_ORPHAN_FILE_AGE_SECONDS)),
        )


@contextmanager
def housekeeping_lock() -> Iterator[bool]:
    """Yields whether this caller holds the one housekeeping lock of every process sharing the database."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [ADVISORY_LOCK_KEY])
            acquired = cursor.fetchone()[0]
        try:
            yield acquired
        finally:
            if acquired:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_LOCK_KEY])
        return
    with open(f"{connection.settings_dict['NAME']}.housekeeping.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def start_housekeeping() -> None:
    """Starts this process's housekeeping thread (once; not at all when the interval is 0)."""
    global _thread
    interval = settings.CSM_HOUSEKEEPING_INTERVAL_SECONDS
    with _started:
        if interval <= 0 or _thread is not None:
            return
        _stop.clear()
        _thread = threading.Thread(target=_every, args=(interval,), name="housekeeping", daemon=True)
        _thread.start()


def stop_housekeeping() -> None:
    """Stops the thread after its current round (the process's exit also ends it: it is a daemon)."""
    global _thread
    with _started:
        if _thread is None:
            return
        _stop.set()
        _thread.join()
        _thread = None


def _every(interval: int) -> None:
    while not _stop.wait(interval):
        try:
            report = run_housekeeping()
        except Exception:
            logger.exception("Housekeeping failed; it runs again in %s s.", interval)
        else:
            if report is None:
                logger.debug("Housekeeping: another process holds the lock.")
            elif report.sessions or report.clips or report.orphan_files:
                logger.info(
                    "Housekeeping: deleted %s expired session(s), %s expired clip(s), %s orphan file(s).",
                    report.sessions,
                    report.clips,
                    len(report.orphan_files),
                )
        finally:
            connections.close_all()  # this thread's connections: a fresh one next round
