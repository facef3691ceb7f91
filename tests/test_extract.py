"""Extract stage: every figure graphic becomes a row or a reject with its reason."""

import io
import json

from PIL import Image

from roco import extract
from roco.sources import local_bucket, parse_inventory_key

CFG = extract.ExtractConfig(licences=frozenset({"CC BY", "CC BY-NC"}))
CAPTION = "Axial computed tomography of the chest showing a nodule in the right upper lobe."


def jpeg(size=(200, 160)) -> bytes:
    out = io.BytesIO()
    Image.new("L", size, 90).save(out, "JPEG")
    return out.getvalue()


def fig(fig_id, href, caption=CAPTION, permissions=""):
    graphic = f'<graphic xlink:href="{href}"/>' if href else ""
    return (
        f'<fig id="{fig_id}"><label>Figure</label><caption><p>{caption}</p></caption>'
        f"{permissions}{graphic}</fig>"
    )


def article_xml(pmc, figs):
    return (
        '<article xmlns:xlink="http://www.w3.org/1999/xlink"><front><article-meta>'
        f'<article-id pub-id-type="pmc">{pmc}</article-id><title-group><article-title>T'
        "</article-title></title-group></article-meta></front><body>"
        + "".join(figs)
        + "</body></article>"
    ).encode()


def add_article(root, pmc, figs, media, licence="CC BY", xml=None, **meta):
    prefix = f"PMC{pmc}.1"
    (root / prefix).mkdir(parents=True)
    (root / prefix / f"{prefix}.xml").write_bytes(xml or article_xml(pmc, figs))
    for name, data in media.items():
        (root / prefix / name).write_bytes(data)
    metadata = {
        "pmcid": f"PMC{pmc}",
        "version": 1,
        "license_code": licence,
        "is_pmc_openaccess": True,
        "is_retracted": False,
        "citation": f"Article {pmc}",
        "xml_url": f"s3://pmc-oa-opendata/{prefix}/{prefix}.xml",
        "media_urls": [f"s3://pmc-oa-opendata/{prefix}/{n}" for n in media],
        **meta,
    }
    (root / "metadata").mkdir(exist_ok=True)
    (root / "metadata" / f"{prefix}.json").write_text(json.dumps(metadata))
    return parse_inventory_key(f"metadata/{prefix}.json", "etag")


def reasons(rejects):
    return sorted(zip(rejects["reason"], rejects["id"].fillna("-"), strict=True))


def test_one_row_per_graphic_and_a_reject_for_everything_else(tmp_path):
    rows = [
        add_article(
            tmp_path,
            1,
            [
                fig("f1", "a"),
                fig("f2", "gone.jpg"),
                fig("f3", "t.jpg"),
                fig("f4", None),
                fig("f5", "a", caption="Fig."),
            ],
            {"a.jpg": jpeg(), "t.jpg": jpeg((40, 30))},
        ),
        add_article(tmp_path, 2, [fig("f1", "a.jpg")], {"a.jpg": jpeg()}, licence="CC BY-ND"),
        add_article(tmp_path, 3, [], {}, xml=b"<article><unclosed></article>"),
        add_article(tmp_path, 4, [fig("f1", "a.jpg")], {"a.jpg": jpeg()}, is_retracted=True),
    ]
    figures, rejects = extract.extract_chunk(local_bucket(tmp_path), rows, CFG)
    assert list(figures["id"]) == ["PMC1_f1"]
    row = figures.iloc[0]
    assert (row["image_file"], row["width"], row["height"]) == ("a.jpg", 200, 160)
    assert row["caption"] == CAPTION
    assert "CC BY" in row["attribution"] and row["source_url"].endswith("/PMC1.1/a.jpg")
    assert reasons(rejects) == [
        ("bad_xml", "-"),
        ("caption_too_short", "PMC1_f5"),
        ("image_too_small", "PMC1_f3"),
        ("licence", "-"),
        ("missing_image", "PMC1_f2"),
        ("no_graphic", "PMC1_f4"),
        ("retracted", "-"),
    ]


def test_figure_permissions_override_the_article_licence(tmp_path):
    nd = (
        '<permissions><license license-type="open-access" '
        'xlink:href="https://creativecommons.org/licenses/by-nd/4.0/"><license-p>CC BY-ND'
        "</license-p></license></permissions>"
    )
    rows = [
        add_article(
            tmp_path, 5, [fig("f1", "a.jpg", permissions=nd), fig("f2", "a.jpg")], {"a.jpg": jpeg()}
        )
    ]
    figures, rejects = extract.extract_chunk(local_bucket(tmp_path), rows, CFG)
    assert list(figures["id"]) == ["PMC5_f2"]
    assert reasons(rejects) == [("licence", "PMC5_f1")]


def test_duplicate_figure_ids_and_several_graphics_get_distinct_ids(tmp_path):
    two = (
        '<fig id="f1"><caption><p>' + CAPTION + '</p></caption><graphic xlink:href="a.jpg"/>'
        '<graphic xlink:href="b.jpg"/></fig>'
    )
    rows = [add_article(tmp_path, 6, [two, fig("f1", "b.jpg")], {"a.jpg": jpeg(), "b.jpg": jpeg()})]
    figures, rejects = extract.extract_chunk(local_bucket(tmp_path), rows, CFG)
    assert list(figures["id"]) == ["PMC6_f1-2", "PMC6_f1_g1", "PMC6_f1_g2"]
    assert rejects.empty


def test_an_unreadable_metadata_file_is_a_reject_not_a_crash(tmp_path):
    row = add_article(tmp_path, 7, [fig("f1", "a.jpg")], {"a.jpg": jpeg()})
    (tmp_path / "metadata" / "PMC7.1.json").write_text("{not json")
    figures, rejects = extract.extract_chunk(local_bucket(tmp_path), [row], CFG)
    assert figures.empty
    assert reasons(rejects) == [("fetch_failed", "-")]
