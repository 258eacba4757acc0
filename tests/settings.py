"""Test settings: the project's settings with test defaults in the environment (tiny model, temp media, file DB)."""

import os
import tempfile
from pathlib import Path

_TMP = Path(tempfile.mkdtemp(prefix="csm-tests-"))
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("CSM_MODEL", "tiny-random")
os.environ.setdefault("MEDIA_ROOT", str(_TMP / "media"))
# No housekeeping thread in the servers tests start (tests/operations turn it on where they test it).
os.environ.setdefault("CSM_HOUSEKEEPING_INTERVAL_SECONDS", "0")

from config.settings import *  # noqa: E402,F403
from config.settings import DATABASES  # noqa: E402

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not memory: the Daphne server the tests start in another process shares this database.
    DATABASES["default"]["TEST"] = {"NAME": str(_TMP / "test.sqlite3")}
