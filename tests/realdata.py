"""Where the real third-party test material is: $ROCO_REALDATA, else ../shared/realdata.

Tests that read it skip (with a reason) when it is absent; it is never copied into the repository.
"""

import os
from pathlib import Path

REALDATA = Path(
    os.environ.get("ROCO_REALDATA")
    or Path(__file__).resolve().parents[1].parent / "shared" / "realdata"
)


def real_image_files(suffixes=(".jpg", ".jpeg", ".png", ".tif", ".tiff")) -> list[Path]:
    """The real pictures of images/ and images2/; skips the calling test when they are absent."""
    import pytest

    if not REALDATA.is_dir():
        pytest.skip(f"real third-party images not present at {REALDATA}")
    return sorted(
        p
        for folder in ("images", "images2")
        for p in (REALDATA / folder).rglob("*")
        if p.suffix.lower() in suffixes
    )
