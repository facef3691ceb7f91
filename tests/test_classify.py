"""Tests of roco.classify and roco.features on images and captions the tests draw themselves."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageDraw
from realdata import REALDATA

from roco.classify import (
    Classification,
    ClassifyConfig,
    caption_modality,
    classify_chunk,
    classify_image,
    load_model,
    read_labelled,
    save_model,
    train_from_figures,
    train_from_labelled,
    weak_labels,
    with_image_features,
)
from roco.features import IMAGE_FEATURES, THUMB, caption_features, image_features, thumbnail
from roco.images import ImageError
from roco.modalities import MODALITIES, UNKNOWN
from roco.tables import REJECT_COLUMNS, to_arrow

CFG = ClassifyConfig()


def encode(img: Image.Image, fmt: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def ct_slice(seed: int, size: int = 384) -> Image.Image:
    """A CT-like axial slice: black air, a noisy soft-tissue ellipse, bright bone, dark lungs."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size - 0.5
    body = (xx / (0.42 + rng.uniform(-0.03, 0.03))) ** 2 + (yy / 0.33) ** 2 < 1
    image = np.where(body, 110.0, 5.0)
    for side in (-1, 1):
        lung = ((xx - side * 0.17) / 0.13) ** 2 + ((yy + 0.02) / 0.2) ** 2 < 1
        image[lung] = 25
    spine = (xx / 0.05) ** 2 + ((yy - 0.22) / 0.05) ** 2 < 1
    image[spine] = 235
    image += rng.normal(0, 9, image.shape)
    image = np.clip(image, 0, 255).astype(np.uint8)
    return Image.fromarray(image)


def bar_chart(seed: int, size: tuple[int, int] = (480, 360)) -> Image.Image:
    """A colour bar chart on white with axes, ticks and labels."""
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    draw.line([(40, 20), (40, size[1] - 40), (size[0] - 10, size[1] - 40)], fill="black", width=2)
    colours = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40)]
    for i in range(8):
        height = int(rng.integers(40, size[1] - 80))
        x = 55 + i * 52
        draw.rectangle([x, size[1] - 40 - height, x + 36, size[1] - 41], fill=colours[i % 4])
        draw.text((x + 8, size[1] - 32), f"G{i}", fill="black")
    draw.text((60, 5), "Expression (fold change)", fill="black")
    return img


def grid(panels: list[Image.Image], cols: int, gutter: int = 12) -> Image.Image:
    """A multi-panel figure with white gutters and panel letters."""
    cell = 300
    rows = -(-len(panels) // cols)
    canvas = Image.new(
        "RGB", (cols * cell + (cols + 1) * gutter, rows * cell + (rows + 1) * gutter), "white"
    )
    draw = ImageDraw.Draw(canvas)
    for i, panel in enumerate(panels):
        panel = panel.convert("RGB").resize((cell, cell))
        x, y = gutter + (i % cols) * (cell + gutter), gutter + (i // cols) * (cell + gutter)
        canvas.paste(panel, (x, y))
        draw.text((x + 5, y + 5), "ABCDEF"[i], fill="white")
    return canvas


def figure_row(fid: str, image: bytes, caption: str) -> dict:
    return {
        "id": fid,
        "pmcid": "PMC1",
        "version": 1,
        "pmid": None,
        "doi": None,
        "title": "t",
        "journal": "j",
        "year": 2020,
        "pub_date": None,
        "licence": "CC BY",
        "attribution": "a",
        "source_url": "u",
        "figure_id": fid,
        "label": "Figure 1",
        "caption": caption,
        "graphic": "g",
        "image_file": "g.jpg",
        "image": image,
        "image_format": "JPEG",
        "width": 1,
        "height": 1,
    }


@pytest.fixture(scope="module")
def model():
    return load_model(None)


# ---------------------------------------------------------------- features


def test_features_separate_grey_radiology_from_colour_chart():
    ct = dict(zip(IMAGE_FEATURES, image_features(encode(ct_slice(1))), strict=True))
    chart = dict(zip(IMAGE_FEATURES, image_features(encode(bar_chart(1), "PNG")), strict=True))
    assert ct["chroma_mean"] < 0.01 < chart["chroma_mean"]
    assert ct["border_dark"] > 0.9 and chart["border_white"] > 0.9
    assert ct["white_share"] < 0.05 < chart["white_share"]


def test_layout_counts_panels_of_a_grid_and_none_in_a_single_image():
    single = dict(zip(IMAGE_FEATURES, image_features(encode(ct_slice(2))), strict=True))
    quad = grid([ct_slice(s) for s in range(4)], cols=2)
    four = dict(zip(IMAGE_FEATURES, image_features(encode(quad)), strict=True))
    three = grid([ct_slice(s) for s in range(3)], cols=3)
    row = dict(zip(IMAGE_FEATURES, image_features(encode(three)), strict=True))
    assert single["log_panels"] == 0 and single["row_gutters"] == 0
    assert four["log_panels"] == pytest.approx(np.log2(4) / 4)
    assert row["log_panels"] == pytest.approx(np.log2(3) / 4) and row["col_gutters"] == 0.5


def scanner_screen(seed: int) -> Image.Image:
    """A single slice on a scanner screen: a block of white text lines at the top, black rows,
    then the image. The black rows are a uniform band with content on both sides."""
    screen = Image.new("L", (384, 500), 0)
    draw = ImageDraw.Draw(screen)
    for line in range(7):
        draw.text((8, 4 + 13 * line), f"MI 1.{seed} TIS 0.{line} 11cm C5-1 28Hz", fill=255)
    screen.paste(ct_slice(seed), (0, 116))
    return screen


def test_layout_balance_gutter_width_and_seams():
    def layout(img: Image.Image) -> dict:
        return dict(zip(IMAGE_FEATURES, image_features(encode(img)), strict=True))

    quad = layout(grid([ct_slice(s) for s in range(4)], cols=2))
    screen = layout(scanner_screen(1))
    assert quad["balance"] > 0.9 and quad["gutter_width"] == 1.0
    assert screen["split"] == 1.0 and screen["balance"] < 0.3  # a strip, not a panel
    # Abutting panels of different tone meet at a straight edge; a drawn chart axis is no seam.
    abutting = Image.new("L", (400, 400), 30)
    abutting.paste(Image.new("L", (200, 400), 220), (200, 0))
    assert layout(abutting)["seams"] > 0
    assert layout(bar_chart(9))["seams"] == 0


def test_single_slice_on_a_scanner_screen_is_not_compound(model):
    for seed in range(3):
        result = classify_image(encode(scanner_screen(seed)), "", model, CFG)
        assert not result.compound, result


def test_thumbnail_is_reduced_and_handles_odd_modes():
    big = encode(Image.new("L", (2000, 1000), 128))
    assert max(thumbnail(big).shape[:2]) == THUMB
    sixteen = Image.fromarray((np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16))
    assert thumbnail(encode(sixteen, "PNG")).shape == (64, 64, 3)
    transparent = Image.new("RGBA", (50, 50), (0, 0, 0, 0))
    assert thumbnail(encode(transparent, "PNG")).min() == 255  # flattened on a white page


@pytest.mark.parametrize("data", [b"", b"not an image", encode(ct_slice(3))[:300]])
def test_bad_bytes_raise_image_error(data):
    with pytest.raises(ImageError):
        image_features(data)


def test_caption_features_count_term_groups():
    radiology = caption_features("Axial contrast-enhanced CT shows a hypodense mass (arrow).")
    other = caption_features("Western blot and H&E staining; scale bar 50 µm. (A) control (B) KO")
    assert radiology[0] >= 1 and radiology[1] >= 2 and radiology[3] == 0
    assert other[0] == 0 and other[3] >= 2 and other[4] >= 2


@pytest.mark.parametrize(
    ("caption", "expected"),
    [
        ("Axial computed tomography of the chest.", "CT"),
        ("FDG PET/CT shows uptake in the node.", "PET-CT"),
        ("SPECT-CT fusion image of the parathyroid adenoma.", "SPECT-CT"),
        ("T2-weighted MRI; MR spectroscopy of the lesion.", "MRI"),
        ("Chest radiograph, posteroanterior view.", "X-ray"),
        ("Transabdominal ultrasound of the gallbladder.", "Ultrasound"),
        ("Digital subtraction angiography of the left ICA.", "Angiography"),
        ("Bone scintigraphy with 99mTc-MDP.", "Scintigraphy"),
        ("Mammography of the left breast.", "X-ray"),
        ("Photograph of the patient with us and the act of the pet dog.", None),
    ],
)
def test_caption_modality(caption, expected):
    assert caption_modality(caption) == expected
    assert expected is None or expected in MODALITIES


# ---------------------------------------------------------------- decisions


def test_radiology_image_with_radiology_caption_is_kept_with_its_modality(model):
    result = classify_image(encode(ct_slice(4)), "Axial CT of the chest (arrow).", model, CFG)
    assert isinstance(result, Classification)
    assert result.radiology and not result.compound and result.reason is None
    assert result.modality == "CT"


def test_chart_is_rejected_as_not_radiology(model):
    result = classify_image(encode(bar_chart(5)), "Bar graph of mean ± SD expression.", model, CFG)
    assert not result.radiology and result.reason == "not_radiology"
    assert result.radiology_score < 0.5 and result.modality == UNKNOWN


def test_grid_of_slices_is_rejected_as_compound(model):
    quad = grid([ct_slice(s) for s in range(4)], cols=2)
    result = classify_image(encode(quad), "(A-D) CT at four levels.", model, CFG)
    assert result.compound and result.reason == "compound" and result.compound_score >= 0.5


def test_caption_moves_the_radiology_score(model):
    image = encode(ct_slice(6))
    plain = classify_image(image, "", model, CFG).radiology_score
    radiology = classify_image(image, "Coronal MRI, T1-weighted.", model, CFG).radiology_score
    other = classify_image(image, "H&E staining, original magnification ×200.", model, CFG)
    assert other.radiology_score < plain < radiology


def test_thresholds_come_from_the_config(model):
    image = encode(ct_slice(7))
    strict = ClassifyConfig(radiology_threshold=0.9999999)
    assert classify_image(image, "", model, strict).reason == "not_radiology"
    loose = classify_image(image, "", model, ClassifyConfig(radiology_threshold=0.0))
    assert loose.radiology and loose.modality == UNKNOWN  # no caption modality, no image guess


def test_classify_chunk_keeps_rejects_and_fits_the_schemas(model):
    rows = [
        figure_row("f1", encode(ct_slice(8)), "Axial CT of the abdomen."),
        figure_row("f2", encode(bar_chart(9)), "Kaplan-Meier survival curves."),
        figure_row("f3", b"\x89PNG broken", "Sagittal MRI."),
        figure_row("f4", encode(grid([ct_slice(s) for s in range(4)], 2)), "(A) (B) (C) (D)"),
    ]
    kept, rejects = classify_chunk(pd.DataFrame(rows), model, CFG)
    assert kept["id"].tolist() == ["f1"]
    assert kept["modality"].tolist() == ["CT"]
    to_arrow(kept, "classified")
    to_arrow(rejects, "rejects")
    assert tuple(rejects.columns) == REJECT_COLUMNS
    reasons = dict(zip(rejects["id"], rejects["reason"], strict=True))
    assert reasons == {"f2": "not_radiology", "f3": "bad_image", "f4": "compound"}
    assert set(rejects["stage"]) == {"classify"}
    assert rejects.set_index("id").loc["f2", "detail"].startswith("radiology_score=")


def test_classify_chunk_of_no_rows(model):
    kept, rejects = classify_chunk(pd.DataFrame([figure_row("x", b"", "")]).iloc[:0], model, CFG)
    assert kept.empty and rejects.empty
    to_arrow(kept, "classified")


# ---------------------------------------------------------------- models


def test_model_file_round_trip_is_byte_stable(tmp_path, model):
    save_model(model, tmp_path / "a.json")
    again = load_model(tmp_path / "a.json")
    save_model(again, tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert again == model


def test_load_model_rejects_other_json(tmp_path):
    (tmp_path / "x.json").write_text(json.dumps({"format": "something else"}))
    with pytest.raises(ValueError, match="not a"):
        load_model(tmp_path / "x.json")


def corpus(n: int) -> pd.DataFrame:
    """Figures whose captions give weak labels: CT slices with CT captions, charts with chart
    captions, and some figures whose captions say nothing."""
    rows = []
    for i in range(n):
        kind = i % 3
        if kind == 0:
            rows.append(figure_row(f"r{i}", encode(ct_slice(i)), "Axial CT scan showing a mass."))
        elif kind == 1:
            cap = "Bar graph of cell counts, mean ± SD; western blot below."
            rows.append(figure_row(f"o{i}", encode(bar_chart(i), "PNG"), cap))
        else:
            rows.append(figure_row(f"u{i}", encode(ct_slice(i)), "Case 3."))
    return pd.DataFrame(rows)


def test_weak_labels_from_captions(model):
    labels = weak_labels(
        ["Axial CT scan showing a mass.", "Western blot of lysates.", "Case 3.", ""], model
    )
    assert labels.tolist() == [True, False, None, None]


def test_train_from_figures_is_deterministic_and_reports_held_out_counts(tmp_path):
    figures = corpus(72)
    first, report = train_from_figures(figures, seed=0)
    second, _ = train_from_figures(figures, seed=0)
    save_model(first, tmp_path / "1.json")
    save_model(second, tmp_path / "2.json")
    assert (tmp_path / "1.json").read_bytes() == (tmp_path / "2.json").read_bytes()
    assert report["weak_positive"] == 24 and report["weak_negative"] == 24
    check = report["radiology_image"]
    assert check["used"] == "trained" and check["n"] + check["train"] == 48
    assert check["accuracy"] == 1.0
    result = classify_image(encode(ct_slice(99)), "", first, CFG)
    assert result.radiology


def test_training_on_image_features_gives_the_same_model(tmp_path):
    """The workflow keeps only features of its training sample's images (bounded memory)."""
    figures = corpus(72)
    half = len(figures) // 2
    features = pd.concat(
        [with_image_features(figures.iloc[:half]), with_image_features(figures.iloc[half:])],
        ignore_index=True,
    )
    assert "image" not in features and features["image_features"].notna().all()
    save_model(train_from_figures(figures, seed=0)[0], tmp_path / "bytes.json")
    save_model(train_from_figures(features, seed=0)[0], tmp_path / "features.json")
    assert (tmp_path / "bytes.json").read_bytes() == (tmp_path / "features.json").read_bytes()


def test_train_from_labelled_falls_back_to_base_without_enough_labels(model):
    table = pd.DataFrame({"image": [encode(ct_slice(0))], "radiology": [True]})
    trained, report = train_from_labelled(table, base=model)
    assert trained.radiology_image == model.radiology_image
    assert report["radiology_image"]["used"].startswith("base model")


def test_train_from_labelled_captions_only():
    captions = ["Axial CT of the liver."] * 30 + ["Western blot of lysates."] * 30
    table = pd.DataFrame({"caption": captions, "radiology": [True] * 30 + [False] * 30})
    trained, report = train_from_labelled(table)
    assert report["radiology_caption"]["accuracy"] == 1.0
    assert trained.radiology_caption.log_odds(caption_features("CT scan"))[0] > 0


def test_read_labelled_then_train(tmp_path):
    lines = ["path,label,caption"]
    for i in range(28):
        (tmp_path / f"ct{i}.jpg").write_bytes(encode(ct_slice(i)))
        (tmp_path / f"chart{i}.png").write_bytes(encode(bar_chart(i), "PNG"))
        lines += [f"ct{i}.jpg,radiology,Axial CT.", f"chart{i}.png,other,Bar graph."]
    lines.append("missing.jpg,non-radiology,")
    (tmp_path / "labels.csv").write_text("\n".join(lines) + "\n")
    table = read_labelled(tmp_path / "labels.csv")
    assert len(table) == 57 and table["radiology"].sum() == 28
    assert table["image"].isna().sum() == 1 and table["caption"].isna().sum() == 1
    model, report = train_from_labelled(table)
    assert report["radiology_image"]["used"] == "trained"
    assert report["radiology_image"]["accuracy"] == 1.0
    assert classify_image(encode(ct_slice(77)), "", model, CFG).radiology


def test_read_labelled_rejects_unknown_labels(tmp_path):
    (tmp_path / "labels.csv").write_text("path,label\na.jpg,maybe\n")
    with pytest.raises(ValueError, match="unknown labels"):
        read_labelled(tmp_path / "labels.csv")


# ---------------------------------------------------------------- real images


@pytest.mark.skipif(not REALDATA.is_dir(), reason="needs ../shared/realdata (real test images)")
def test_default_model_on_real_chest_xrays_and_photos(model):
    xrays = sorted((REALDATA / "images/radiology/xray_png_jpg").glob("*.png"))
    photos = sorted((REALDATA / "images/other/microscopy_and_photos").glob("skimage_*.png"))
    assert xrays and photos
    kept = [classify_image(p.read_bytes(), "", model, CFG).radiology for p in xrays]
    other = [classify_image(p.read_bytes(), "", model, CFG).radiology for p in photos]
    assert np.mean(kept) >= 0.8 and np.mean(other) <= 0.35


def _odd_image(mode: str) -> bytes:
    grey = Image.fromarray(np.asarray(Image.open(io.BytesIO(encode(ct_slice(5)))).convert("L")))
    if mode == "tiny":
        return encode(grey.resize((12, 9)))
    if mode == "cmyk":
        out = io.BytesIO()
        grey.convert("CMYK").save(out, "JPEG")
        return out.getvalue()
    if mode == "16-bit":
        return encode(Image.fromarray(np.asarray(grey).astype(np.uint16) * 256), "PNG")
    return encode(grey.convert("P"), "PNG")  # palette


@pytest.mark.parametrize("mode", ["tiny", "cmyk", "16-bit", "palette"])
def test_odd_images_without_a_caption_still_get_a_decision(model, mode):
    result = classify_image(_odd_image(mode), "", model, CFG)
    assert 0.0 <= result.radiology_score <= 1.0 and 0.0 <= result.compound_score <= 1.0
    assert result.reason in (None, "not_radiology", "compound")
