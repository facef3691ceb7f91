"""Perceptual (DCT) and exact hashes of figure images, compatible with `imagehash.phash`.

Algorithm (the one of `imagehash.phash`, hash_size 8, highfreq_factor 4): convert to 8-bit
grayscale (`Image.convert("L")`), resize to 32x32 with LANCZOS, 2-D DCT-II (scipy.fftpack, rows
then columns), keep the 8x8 lowest frequencies, set a bit where the coefficient is above their
median; bits row-major, first bit most significant, printed as 16 hex digits like
`str(imagehash.phash(img))`.

Speed: the decode dominates (imagehash spends ~15 ms on a 2000x1500 JPEG, mostly on the full decode
and the LANCZOS resize from full size), so JPEGs whose smaller side is >= DRAFT_MIN_SIDE are decoded
at reduced scale: libjpeg-turbo's scaled IDCT at 1/2, 1/4 or 1/8 while the smaller side stays >=
DRAFT_SIDE pixels (4x the 32-pixel hash grid), luma channel only. simplejpeg does this decode ~10%
faster than Pillow's `Image.draft` with the same pixels (tests/test_phash.py); Pillow's draft
decodes what simplejpeg does not (CMYK). What remains is libjpeg-turbo's entropy decoding, which no
scaled decode skips. The LANCZOS resize then starts from the reduced image instead of the full one,
which changes the 32x32 pixels by a level or two and can swap DCT coefficients next to the median.
Measured on the 179 real pictures of ../shared/realdata saved as JPEG q90 at 1x and 2x (358 files,
tests/test_phash.py asserts it): every JPEG not drafted is identical; of the drafted, most are
identical and the rest differ by 2 or 4 bits. Smaller JPEGs (cheap to decode anyway; a 1/2-scale
draft of a 394x466 symmetric brain slice moved 20 bits) and every non-JPEG take the full decode and
are bit-identical to imagehash. `exact=True` skips the draft and is bit-identical for every image.
Duplicate search compares hashes made by the same function, so the draft only has to be stable, not
identical.

The DCT runs over a whole batch at once (one scipy call on an (n, 32, 32) array gives the same
floats as one call per image, so ties at the median break the same way as in imagehash).
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import scipy.fftpack
import simplejpeg
from PIL import Image

from roco.images import ImageError, open_image
from roco.tables import rejects_frame

HASH_SIZE = 8
IMG_SIZE = HASH_SIZE * 4
# JPEGs with a smaller side of DRAFT_MIN_SIDE or more are decoded at reduced scale, keeping a
# smaller side of at least DRAFT_SIDE (see the module docstring for the agreement with imagehash).
DRAFT_MIN_SIDE = 16 * IMG_SIZE
DRAFT_SIDE = 4 * IMG_SIZE


def sha256_hex(image: bytes) -> str:
    """The exact content digest: SHA-256 of the image bytes as 64 hex digits."""
    return hashlib.sha256(image).hexdigest()


def gray32(image: bytes, exact: bool = False) -> np.ndarray:
    """The 32x32 uint8 grayscale thumbnail phash is computed from; ImageError if undecodable."""
    img = open_image(image)
    try:
        if not exact and img.format == "JPEG" and min(img.size) >= DRAFT_MIN_SIDE:
            img = reduced_luma(image, img)
        with warnings.catch_warnings():
            # Palette-with-transparency notices: the conversion is the one imagehash does.
            warnings.simplefilter("ignore", UserWarning)
            small = img.convert("L").resize((IMG_SIZE, IMG_SIZE), Image.Resampling.LANCZOS)
        return np.asarray(small, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError) as err:
        raise ImageError(f"cannot decode image: {err}") from err


def reduced_luma(image: bytes, img: Image.Image) -> Image.Image:
    """The luma of a JPEG decoded at the smallest 1/2..1/8 scale keeping DRAFT_SIDE pixels.

    Pillow's `draft` (same pixels, slower) decodes what simplejpeg refuses: CMYK/YCCK, whose
    inversions Pillow knows, and anything simplejpeg reports as ValueError (strict mode:
    truncated or corrupt data too, which Pillow then reports in its own words)."""
    if img.mode in ("L", "RGB"):
        try:
            pixels = simplejpeg.decode_jpeg(
                image, colorspace="GRAY", min_height=DRAFT_SIDE, min_width=DRAFT_SIDE
            )
            return Image.fromarray(pixels[:, :, 0])
        except ValueError:
            pass
    img.draft("L", (DRAFT_SIDE, DRAFT_SIDE))
    return img


def phash_bits(pixels: np.ndarray) -> np.ndarray:
    """Hash bits (n, 64) of a stack of 32x32 thumbnails (n, 32, 32), row-major like imagehash."""
    dct = scipy.fftpack.dct(scipy.fftpack.dct(pixels, axis=1), axis=2)
    low = dct[:, :HASH_SIZE, :HASH_SIZE].reshape(len(pixels), HASH_SIZE * HASH_SIZE)
    return low > np.median(low, axis=1, keepdims=True)


def bits_to_hex(bits: np.ndarray) -> list[str]:
    """16-hex-digit strings of (n, 64) hash bits, first bit most significant."""
    return [row.tobytes().hex() for row in np.packbits(bits, axis=1)]


def phash_hex(image: bytes, exact: bool = False) -> str:
    """The perceptual hash of one image as 16 hex digits; raises ImageError if undecodable."""
    return bits_to_hex(phash_bits(gray32(image, exact)[None]))[0]


def _thumb_or_error(image: bytes, exact: bool) -> np.ndarray | ImageError:
    if not image:
        return ImageError("missing image bytes")
    try:
        return gray32(image, exact)
    except ImageError as err:
        return err


def phash_or_error(
    images: Sequence[bytes], exact: bool = False, threads: int = 1
) -> list[str | ImageError]:
    """Perceptual hashes of many images, or the ImageError saying why one did not decode.

    Decoding runs on `threads` threads (Pillow releases the GIL while decoding); the DCT runs
    once over the whole batch.
    """

    def thumb(data: bytes) -> np.ndarray | ImageError:
        return _thumb_or_error(data, exact)

    if threads > 1:
        with ThreadPoolExecutor(threads) as pool:
            thumbs = list(pool.map(thumb, images))
    else:  # a pool's hand-offs cost ~10% of a drafted decode
        thumbs = [thumb(data) for data in images]
    out: list[str | ImageError] = list(thumbs)
    good = [i for i, t in enumerate(thumbs) if isinstance(t, np.ndarray)]
    if good:
        hexes = bits_to_hex(phash_bits(np.stack([thumbs[i] for i in good])))
        for i, h in zip(good, hexes, strict=True):
            out[i] = h
    return out


def phash_many(images: Sequence[bytes], exact: bool = False, threads: int = 1) -> list[str | None]:
    """Perceptual hashes of many images, None for the undecodable ones."""
    return [h if isinstance(h, str) else None for h in phash_or_error(images, exact, threads)]


def hash_chunk(
    classified: pd.DataFrame, exact: bool = False, threads: int = 1
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Add `phash` and `sha256` to the rows of a `classified` table.

    Returns (hashed rows in input order, rejects): an undecodable or missing image becomes a
    reject of stage "hash", reason "bad_image", with the decoder's message as detail.
    """
    hashed, rejects = hash_rows(classified, exact, threads)
    return hashed, rejects_frame(rejects)


def hash_rows(
    classified: pd.DataFrame, exact: bool = False, threads: int = 1
) -> tuple[pd.DataFrame, list[dict]]:
    """`hash_chunk` with the rejects as a list of dicts (to combine with another stage's)."""
    images = [
        bytes(x) if isinstance(x, (bytes, bytearray, memoryview)) else b""
        for x in classified["image"]
    ]
    hashes = phash_or_error(images, exact=exact, threads=threads)
    ok = np.array([isinstance(h, str) for h in hashes], dtype=bool)
    hashed = classified.loc[ok].copy()
    hashed["phash"] = [h for h in hashes if isinstance(h, str)]
    hashed["sha256"] = [sha256_hex(images[i]) for i in np.flatnonzero(ok)]
    rejects = [
        {
            "stage": "hash",
            "reason": "bad_image",
            "pmcid": row.pmcid,
            "version": row.version,
            "id": row.id,
            "detail": str(err),
        }
        for row, err in zip(
            classified.loc[~ok].itertuples(index=False),
            (h for h in hashes if not isinstance(h, str)),
            strict=True,
        )
    ]
    return hashed.reset_index(drop=True), rejects
