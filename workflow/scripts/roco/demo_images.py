"""Synthetic figure images for the demo corpus, drawn with numpy and PIL.

Radiology-like grayscale pictures (CT, MRI, chest X-ray, ultrasound, angiography) and the other
kinds a PMC figure can be (charts, H&E-like microscopy, clinical photos, diagrams), each from a
seeded generator, so the same seed always draws the same pixels. `DRAW` maps a kind to its
drawing function `(rng, width, height) -> Image`.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont


def choice(rng: np.random.Generator, items: tuple | list):
    """One item, drawn with the generator (numpy's choice would turn tuples into arrays)."""
    return items[int(rng.integers(len(items)))]


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:h, 0:w]
    return yy.astype(np.float32), xx.astype(np.float32)


def _ellipse(yy, xx, cy, cx, ry, rx, angle: float = 0.0) -> np.ndarray:
    """Squared normalised radius of an ellipse: < 1 inside."""
    c, s = math.cos(angle), math.sin(angle)
    dx, dy = xx - cx, yy - cy
    u = (dx * c + dy * s) / rx
    v = (-dx * s + dy * c) / ry
    return u * u + v * v


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """Low-frequency noise in [0, 1]: a small random grid upsampled bicubically."""
    small = Image.fromarray(rng.random((cells, cells)).astype(np.float32), mode="F")
    return np.clip(np.asarray(small.resize((w, h), Image.Resampling.BICUBIC)), 0, 1)


def _to_gray(a: np.ndarray, blur: float = 0.0) -> Image.Image:
    img = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "L")
    return img.filter(ImageFilter.GaussianBlur(blur)) if blur else img


def _draw_ct(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    yy, xx = _grid(h, w)
    img = np.full((h, w), 6.0, np.float32)
    if rng.random() < 0.25:  # head: bright skull ring around grey brain
        cy, cx = h * rng.uniform(0.4, 0.6), w * rng.uniform(0.4, 0.6)
        head = _ellipse(yy, xx, cy, cx, h * rng.uniform(0.3, 0.45), w * rng.uniform(0.25, 0.4))
        img[head < 1] = 240
        img[head < 0.8] = 95 + 20 * _smooth_noise(rng, h, w, 6)[head < 0.8]
        bleed = _ellipse(yy, xx, cy, cx + w * rng.choice([-1, 1]) * 0.18, h * 0.2, w * 0.05)
        img[(bleed < 1) & (head < 0.8)] = 170
        img *= _bias_field(rng, h, w, 0.1)
        img += rng.normal(0, 6, img.shape).astype(np.float32)
        return _to_gray(img, 0.8)
    cy, cx = h * rng.uniform(0.4, 0.6), w * rng.uniform(0.4, 0.6)
    ry, rx = h * rng.uniform(0.25, 0.42), w * rng.uniform(0.3, 0.47)
    body = _ellipse(yy, xx, cy, cx, ry, rx)
    img[body < 1] = 70  # subcutaneous fat
    img[body < 0.8] = 112  # muscle and soft tissue
    if rng.random() < 0.4:  # chest: two nearly black lungs with faint vessel texture
        texture = 18 + 25 * _smooth_noise(rng, h, w, 12)
        for side in (-1, 1):
            ly, lx = cy - ry * rng.uniform(0, 0.2), cx + side * rx * rng.uniform(0.35, 0.5)
            lung = _ellipse(yy, xx, ly, lx, ry * rng.uniform(0.45, 0.65), rx * 0.3) < 1
            img[lung] = texture[lung]
    else:  # abdomen: liver on one side
        side = rng.choice([-1, 1])
        liver = _ellipse(yy, xx, cy - ry * 0.15, cx + side * rx * 0.35, ry * 0.45, rx * 0.4, 0.3)
        img[liver < 1] = rng.uniform(125, 150)
    for _ in range(int(rng.integers(2, 6))):  # organs and bowel loops
        oy, ox = cy + ry * rng.uniform(-0.4, 0.4), cx + rx * rng.uniform(-0.5, 0.5)
        ory, orx = ry * rng.uniform(0.08, 0.25), rx * rng.uniform(0.08, 0.25)
        img[_ellipse(yy, xx, oy, ox, ory, orx, rng.uniform(0, 3.1)) < 1] = rng.uniform(90, 175)
    spine = _ellipse(yy, xx, cy + ry * 0.6, cx, ry * 0.17, rx * 0.11)
    img[spine < 1] = 235  # cortical bone ring
    img[spine < 0.55] = 150
    ly, lx = cy + ry * rng.uniform(-0.3, 0.2), cx + rx * rng.uniform(-0.4, 0.4)
    img[_ellipse(yy, xx, ly, lx, ry * 0.07, rx * 0.06) < 1] = 55  # the lesion
    img *= _bias_field(rng, h, w, 0.15)
    img += rng.normal(0, 7, img.shape).astype(np.float32)
    return _to_gray(img, 0.8)


def _draw_mri(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    yy, xx = _grid(h, w)
    cy, cx = h * rng.uniform(0.47, 0.53), w * 0.5
    r = _ellipse(yy, xx, cy, cx, h * rng.uniform(0.40, 0.46), w * rng.uniform(0.32, 0.4))
    theta = np.arctan2(yy - cy, xx - cx)
    warp = _smooth_noise(rng, h, w, 7) * 3
    folds = np.sin(theta * rng.integers(14, 26) + warp * 3 + np.sqrt(r) * rng.uniform(8, 14))
    t2 = rng.random() < 0.5
    gray, white, csf, fat = (120, 80, 225, 150) if t2 else (105, 160, 30, 210)
    img = np.full((h, w), 4.0, np.float32)
    img[r < 1.0] = fat  # scalp
    img[r < 0.9] = 15  # skull: no signal
    brain = r < 0.82
    img[brain] = white
    cortex = brain & (r > 0.42)
    img[cortex & (folds > 0.1)] = gray
    img[cortex & (folds > 0.85)] = csf  # sulci
    for side in (-1, 1):  # lateral ventricles
        v = _ellipse(yy, xx, cy, cx + side * w * 0.05, h * 0.12, w * 0.03, side * 0.25)
        img[v < 1] = csf
    img = np.abs(img + rng.normal(0, 6, img.shape).astype(np.float32))
    return _to_gray(img, 0.7)


def _bias_field(rng: np.random.Generator, h: int, w: int, strength: float) -> np.ndarray:
    """Smooth multiplicative shading, so images of one kind differ in their coarse structure."""
    return 1 - strength + 2 * strength * _smooth_noise(rng, h, w, 3)


def _draw_xray(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    yy, xx = _grid(h, w)
    region = choice(rng, ("chest", "chest", "chest", "limb", "pelvis"))
    img = np.full((h, w), rng.uniform(10, 40), np.float32)
    if region == "chest":
        cx, cy = w * rng.uniform(0.4, 0.6), h * rng.uniform(0.42, 0.58)
        sx, sy = rng.uniform(0.8, 1.15), rng.uniform(0.8, 1.15)
        img[_ellipse(yy, xx, cy + h * 0.15 * sy, cx, h * 0.65 * sy, w * 0.46 * sx) < 1] = 140
        lungs = np.zeros((h, w), bool)
        for side in (-1, 1):
            ry = h * 0.33 * sy * rng.uniform(0.85, 1.1)
            lungs |= _ellipse(yy, xx, cy, cx + side * w * 0.19 * sx, ry, w * 0.15 * sx) < 1
        img[lungs] = 55 + 30 * _smooth_noise(rng, h, w, 10)[lungs]
        spacing, curve = h * rng.uniform(0.055, 0.08) * sy, rng.uniform(0.6, 1.4)
        for k in range(10):  # ribs: bright arcs across the lungs
            arc = cy - h * 0.3 * sy + k * spacing + curve * (xx - cx) ** 2 / w
            img[(np.abs(yy - arc) < h * 0.012) & lungs] += 50
        heart = _ellipse(
            yy, xx, cy + h * 0.17 * sy, cx + w * rng.uniform(0.0, 0.1), h * 0.16, w * 0.14
        )
        img[heart < 1] = rng.uniform(150, 190)
        img[np.abs(xx - cx) < w * 0.035] += 35  # spine
        if rng.random() < 0.3:  # opacity: consolidation or effusion
            img[_ellipse(yy, xx, cy + h * 0.2, cx - w * 0.2 * sx, h * 0.12, w * 0.1) < 1] += 60
    else:  # a long bone or the pelvis: soft tissue and bright cortical bone
        angle = rng.uniform(-0.5, 0.5)
        u = (xx - w * rng.uniform(0.35, 0.65)) * math.cos(angle) + (yy - h / 2) * math.sin(angle)
        img[np.abs(u) < w * rng.uniform(0.25, 0.4)] = 90
        width = w * rng.uniform(0.06, 0.12)
        img[np.abs(u) < width] = 215
        img[np.abs(u) < width * 0.55] = 165  # medullary cavity
        if region == "pelvis":
            for side in (-1, 1):
                ring = _ellipse(yy, xx, h * 0.55, w / 2 + side * w * 0.22, h * 0.25, w * 0.18)
                img[(ring < 1) & (ring > 0.6)] = 210
        cut = yy > h * rng.uniform(0.3, 0.7)  # fracture line
        img[cut & (np.abs(yy - xx * rng.uniform(-0.3, 0.3) - h / 2) < 2)] = 60
    img *= _bias_field(rng, h, w, 0.2)
    img += rng.normal(0, 4, img.shape).astype(np.float32)
    if rng.random() < 0.25:  # some journals print radiographs inverted
        img = 255 - img
    return _to_gray(img, 1.2)


def _draw_ultrasound(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    yy, xx = _grid(h, w)
    cx, apex = w * 0.5, -h * 0.05
    radius = np.hypot(xx - cx, yy - apex)
    angle = np.arctan2(xx - cx, yy - apex)
    half = rng.uniform(0.5, 0.7)
    sector = (np.abs(angle) < half) & (radius > h * 0.12) & (radius < h * 0.95)
    speckle = rng.rayleigh(1.0, (h, w)).astype(np.float32)
    tissue = 0.4 + 0.6 * _smooth_noise(rng, h, w, 8)
    img = sector * speckle * tissue * 75 * (1.1 - 0.6 * radius / h)
    cyst = _ellipse(
        yy, xx, h * rng.uniform(0.45, 0.65), cx + w * rng.uniform(-0.1, 0.1), h * 0.1, w * 0.13
    )
    img[(cyst < 1) & sector] *= 0.08  # anechoic
    img[(cyst >= 1) & (cyst < 1.3) & sector] *= 1.8  # echogenic wall
    for k in range(1, 10):  # depth markers
        y = int(h * k / 10)
        img[y : y + 2, w - 8 : w - 5] = 230
    return _to_gray(img, 0.6)


def _draw_angiography(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    img = _to_gray(150 + 40 * _smooth_noise(rng, h, w, 5) + rng.normal(0, 5, (h, w)))
    draw = ImageDraw.Draw(img)
    stack = [(w * rng.uniform(0.4, 0.6), 0.0, math.pi / 2, 7.0, 0)]
    while stack:  # a branching vessel tree, drawn dark (contrast-filled)
        x, y, a, width, depth = stack.pop()
        length = rng.uniform(20, 50)
        x2, y2 = x + length * math.cos(a), y + length * math.sin(a)
        draw.line([(x, y), (x2, y2)], fill=int(40 + depth * 12), width=max(1, int(width)))
        if depth < 6 and 0 < x2 < w and y2 < h:
            stack.append((x2, y2, a + rng.uniform(-0.35, 0.35), width * 0.85, depth + 1))
            if rng.random() < 0.55:
                stack.append(
                    (
                        x2,
                        y2,
                        a + rng.choice([-1, 1]) * rng.uniform(0.4, 0.9),
                        width * 0.6,
                        depth + 1,
                    )
                )
    return img.filter(ImageFilter.GaussianBlur(0.8))


_PALETTE = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189))


@lru_cache(maxsize=8)
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _draw_chart(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    img = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(img)
    left, top = int(rng.integers(30, 60)), int(rng.integers(10, 40))
    bottom, right = h - int(rng.integers(22, 40)), w - int(rng.integers(8, 40))
    # Small panels of a compound figure leave no room for the margins: keep a plot area.
    bottom, right = max(bottom, top + 20), max(right, left + 20)
    draw.line([(left, top), (left, bottom), (right, bottom)], fill="black", width=2)
    for k in range(5):  # y ticks and labels
        y = bottom - k * (bottom - top) // 4
        draw.line([(left - 4, y), (left, y)], fill="black")
        draw.text((4, y - 6), f"{k * 25}", fill="black", font=font(10))
    if rng.random() < 0.5:  # bar chart with error bars
        n = int(rng.integers(3, 7))
        slot = (right - left) / n
        for k in range(n):
            top_y = bottom - rng.uniform(0.2, 0.9) * (bottom - top)
            x0 = left + k * slot + slot * 0.2
            draw.rectangle([x0, top_y, x0 + slot * 0.6, bottom], fill=_PALETTE[k % 5])
            draw.line([(x0 + slot * 0.3, top_y - 8), (x0 + slot * 0.3, top_y)], fill="black")
            draw.text((x0, bottom + 6), f"G{k + 1}", fill="black", font=font(10))
    else:  # Kaplan-Meier-like step curves
        for c in range(int(rng.integers(2, 4))):
            x, y = float(left), float(top)
            points = [(x, y)]
            while x < right:
                x = min(right, x + rng.uniform(8, 30))
                points.append((x, y))
                y = min(bottom, y + rng.uniform(0, 18) * (c + 1) / 2)
                points.append((x, y))
            draw.line(points, fill=_PALETTE[c], width=2)
            draw.rectangle(
                [right - 60, top + c * 14, right - 52, top + c * 14 + 8], fill=_PALETTE[c]
            )
            draw.text((right - 48, top + c * 14 - 2), f"Arm {c + 1}", fill="black", font=font(10))
    return img


def _draw_microscopy(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    if rng.random() < 0.3:  # immunofluorescence: coloured cells on black
        g = 200 * _smooth_noise(rng, h, w, 14) ** 3
        b = np.zeros((h, w), np.float32)
        rgb = np.stack([g * 0.2, g, b], axis=-1)
        img = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")
        draw = ImageDraw.Draw(img)
        for _ in range(int(rng.integers(15, 40))):
            x, y, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(3, 7)
            draw.ellipse([x - r, y - r, x + r, y + r], fill=(20, 40, 220))
        return img.filter(ImageFilter.GaussianBlur(1.2))
    shade = 0.82 + 0.18 * _smooth_noise(rng, h, w, 10)
    base = np.array([238, 170, 205], np.float32)  # eosin pink
    rgb = base[None, None, :] * shade[..., None]
    img = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(80, 200))):  # haematoxylin-stained nuclei
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        rx, ry = rng.uniform(2, 6), rng.uniform(2, 5)
        tone = int(rng.integers(0, 40))
        draw.ellipse([x - rx, y - ry, x + rx, y + ry], fill=(90 + tone, 40 + tone, 140 + tone))
    return img.filter(ImageFilter.GaussianBlur(0.7))


def _draw_photo(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    yy, xx = _grid(h, w)
    shade = 0.75 + 0.25 * _smooth_noise(rng, h, w, 4)
    if rng.random() < 0.4:  # endoscopy: a round pink-red field on black
        base = np.array([200, 90, 80], np.float32)
        rgb = base[None, None, :] * shade[..., None]
        rgb[_ellipse(yy, xx, h / 2, w / 2, h * 0.47, w * 0.47) >= 1] = 0
    else:  # skin with a lesion
        base = rng.uniform([200, 150, 120], [235, 190, 160]).astype(np.float32)
        rgb = base[None, None, :] * shade[..., None]
        blob = _ellipse(yy, xx, h * 0.5, w * 0.5, h * 0.2, w * 0.25) + 0.6 * _smooth_noise(
            rng, h, w, 6
        )
        rgb[blob < 1] = rgb[blob < 1] * np.array([0.85, 0.45, 0.45], np.float32)
    rgb += rng.normal(0, 4, rgb.shape).astype(np.float32)
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")


def _draw_diagram(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    img = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(img)
    fill = choice(rng, ("white", (220, 232, 245), (235, 245, 220), (250, 235, 215)))
    vertical = rng.random() < 0.7
    along, across = (h, w) if vertical else (w, h)

    def xy(a: float, c: float) -> tuple[float, float]:  # (along, across) -> image (x, y)
        return (c, a) if vertical else (a, c)

    n = int(rng.integers(3, 7))
    step = (along - 10) / n
    box_len, box_w = step * rng.uniform(0.45, 0.7), across * rng.uniform(0.3, 0.6)
    centre = across * rng.uniform(0.25, 0.5)
    boxes = []
    for k in range(n):  # a chain of boxes with arrows; some steps branch to a side box
        a0, mid = 5 + k * step, centre + across * rng.uniform(-0.08, 0.08)
        boxes.append((a0, mid - box_w / 2, a0 + box_len, mid + box_w / 2))
        if rng.random() < 0.4:
            side = (a0, mid + box_w / 2 + across * 0.06, a0 + box_len * 0.8, across - 4)
            boxes.append(side)
            draw.line(
                [xy(a0 + box_len / 2, mid + box_w / 2), xy(a0 + box_len / 2, side[1])], fill="black"
            )
        if k < n - 1:
            draw.line([xy(a0 + box_len, mid), xy(a0 + step, mid)], fill="black", width=2)
    for a0, c0, a1, c1 in boxes:
        (x0, y0), (x1, y1) = xy(a0, c0), xy(a1, c1)
        draw.rectangle([x0, y0, x1, y1], outline="black", fill=fill, width=int(rng.integers(1, 3)))
        label = f"n = {int(rng.integers(20, 900))}"
        draw.text((x0 + 3, y0 + 2), label, fill="black", font=font(10))
    return img


DRAW = {
    "ct": _draw_ct,
    "mri": _draw_mri,
    "xray": _draw_xray,
    "ultrasound": _draw_ultrasound,
    "angiography": _draw_angiography,
    "chart": _draw_chart,
    "microscopy": _draw_microscopy,
    "photo": _draw_photo,
    "diagram": _draw_diagram,
}
