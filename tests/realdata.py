"""Where the real third-party test material is: $ROCO_REALDATA, else ../shared/realdata.

Tests that read it skip (with a reason) when it is absent; it is never copied into the repository.
"""

import os
from pathlib import Path

REALDATA = Path(
    os.environ.get("ROCO_REALDATA")
    or Path(__file__).resolve().parents[1].parent / "shared" / "realdata"
)
