"""Where the shared test fixtures live: $CSM_FIXTURES if set, else <repo>/../shared/fixtures."""

import os
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[1]
FIXTURES_DIR = Path(os.environ.get("CSM_FIXTURES") or REPO_DIR.parent / "shared" / "fixtures")
