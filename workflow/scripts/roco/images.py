"""Safe image decoding shared by the stages that look at pixels.

Third-party figures include decompression bombs, truncated files, CMYK, 16-bit, palette and
multi-frame images. `open_image` checks the declared size before decoding and turns every decoder
failure into ImageError with a readable reason, so a stage can write a reject row instead of
crashing.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image

# Largest figure we decode: 60 Mpx covers a 7,700 x 7,700 scan; bombs declare far more.
MAX_PIXELS = 60_000_000


class ImageError(ValueError):
    """An image that cannot or must not be decoded; the message is the reject detail."""


def open_image(data: bytes, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open image bytes lazily after checking format and declared size (no pixel decode yet)."""
    if not data:
        raise ImageError("empty image file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
    except (
        OSError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        SyntaxError,
    ) as err:
        raise ImageError(f"cannot open image: {err}") from err
    if img.width * img.height > max_pixels:
        raise ImageError(f"image too large: {img.width}x{img.height} > {max_pixels} pixels")
    return img


def load_rgb(data: bytes, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode the first frame fully and convert it to 8-bit RGB (CMYK, 16-bit, palette...)."""
    img = open_image(data, max_pixels)
    try:
        img.seek(0)
        img.load()
        if img.mode in ("I;16", "I;16B", "I;16L", "I"):
            img = img.point(lambda v: v / 256).convert("L")
        return img.convert("RGB")
    except (OSError, ValueError, SyntaxError, EOFError) as err:
        raise ImageError(f"cannot decode image: {err}") from err
