"""JATS parsing: figures in every place JATS puts them, caption text, metadata, licences, safety."""

from __future__ import annotations

import pytest

from roco.jats import (
    NO_LICENCE,
    JatsError,
    normalise_licence,
    parse_article,
    resolve_graphic,
)

NS = (
    'xmlns:xlink="http://www.w3.org/1999/xlink" '
    'xmlns:mml="http://www.w3.org/1998/Math/MathML" '
    'xmlns:ali="http://www.niso.org/schemas/ali/1.0/"'
)


def article(body: str = "", meta: str = "", back: str = "", extra: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<article {NS} article-type="research-article">'
        f"<front><journal-meta><journal-title-group><journal-title>Radiol Case Rep"
        f"</journal-title></journal-title-group></journal-meta><article-meta>{meta}"
        f"<title-group><article-title>A <italic>case</italic> report</article-title>"
        f"</title-group></article-meta></front><body>{body}</body><back>{back}</back>{extra}"
        f"</article>"
    ).encode()


def fig(fid: str, caption: str = "<p>Axial CT.</p>", inner: str = "", href: str = "") -> str:
    graphic = f'<graphic xlink:href="{href or fid}"/>' if href is not None else ""
    return (
        f'<fig id="{fid}"><label>Figure</label><caption>{caption}</caption>{inner}{graphic}</fig>'
    )


def figures(xml: bytes):
    return parse_article(xml).figures


# ---------------------------------------------------------------- where figures are


def test_figures_in_body_back_floats_group_and_sub_article_in_document_order():
    xml = article(
        body=f"<sec><p>Text {fig('f1')}</p></sec>",
        back=f"<app-group><app>{fig('app1')}</app></app-group>",
        extra=(
            f"<floats-group>{fig('f2')}</floats-group>"
            f'<sub-article article-type="reply"><front-stub/><body>{fig("resp1")}</body>'
            f"</sub-article>"
        ),
    )
    found = figures(xml)
    assert [f.figure_id for f in found] == ["f1", "app1", "f2", "resp1"]
    assert [f.ordinal for f in found] == [1, 2, 3, 4]
    assert [f.graphics for f in found] == [("f1",), ("app1",), ("f2",), ("resp1",)]


def test_fig_group_children_keep_the_group_caption_and_label():
    group = (
        "<fig-group id='g1'><label>Figure 2</label><caption><title>Chest CT.</title></caption>"
        + fig("g1a", "<p>Arterial phase.</p>").replace("<label>Figure</label>", "")
        + fig("g1b", "<p>Venous phase.</p>").replace("<label>Figure</label>", "<label>B</label>")
        + "</fig-group>"
    )
    found = figures(article(body=group))
    assert [(f.figure_id, f.label, f.caption) for f in found] == [
        ("g1a", "Figure 2", "Chest CT. Arterial phase."),
        ("g1b", "B", "Chest CT. Venous phase."),
    ]


def test_several_graphics_in_one_fig_in_order_and_alternatives_count_once():
    inner = (
        '<graphic xlink:href="a1"/><graphic xlink:href="a2"/>'
        '<alternatives><graphic xlink:href="b.tif"/><graphic xlink:href="b.jpg"/></alternatives>'
    )
    (found,) = figures(article(body=fig("f1", inner=inner, href=None)))
    assert found.graphics == ("a1", "a2", "b.tif")


def test_formula_graphics_and_inline_graphics_in_captions_are_not_figure_graphics():
    caption = (
        '<p>Signal <inline-graphic xlink:href="i1"/> and '
        '<disp-formula><graphic xlink:href="eq1"/></disp-formula> shown.</p>'
    )
    body = fig("f1", caption) + '<disp-formula id="e2"><graphic xlink:href="eq2"/></disp-formula>'
    (found,) = figures(article(body=body))
    assert found.graphics == ("f1",)


def test_figure_without_graphic_is_kept_with_no_graphics():
    (found,) = figures(article(body=fig("v1", inner='<media xlink:href="v1.mp4"/>', href=None)))
    assert found.graphics == ()


def test_figure_without_id_gets_an_ordinal_id():
    xml = article(body="<fig><graphic xlink:href='x'/></fig>")
    assert figures(xml)[0].figure_id == "fig1"


# ---------------------------------------------------------------- caption text


def test_caption_is_title_and_every_paragraph_with_spacing_and_no_markup():
    caption = (
        "<title>MRI of the <bold>brain</bold></title>"
        "<p>T2-weighted image<sup>a</sup> of a 45-year-old patient.</p>"
        "<p>The <italic>arrow</italic> shows the lesion (<xref ref-type='bibr'>12</xref>).</p>"
    )
    (found,) = figures(article(body=fig("f1", caption)))
    assert found.caption == (
        "MRI of the brain. T2-weighted imagea of a 45-year-old patient. "
        "The arrow shows the lesion (12)."
    )


def test_inline_formula_uses_alt_text_or_mathml_tokens_never_tex():
    caption = (
        "<p>Correlation <inline-formula><alternatives><tex-math>\\rho</tex-math>"
        '<mml:math alttext="rho"><mml:mi>ρ</mml:mi></mml:math></alternatives></inline-formula>'
        " was high, <inline-formula><mml:math><mml:mi>p</mml:mi><mml:mo>&lt;</mml:mo>"
        "<mml:mn>0.05</mml:mn></mml:math></inline-formula>, and <inline-formula>"
        "<tex-math>\\frac{a}{b}</tex-math></inline-formula>ratio.</p>"
    )
    (found,) = figures(article(body=fig("f1", caption)))
    assert found.caption == "Correlation rho was high, p<0.05, and ratio."
    assert "\\" not in found.caption and "frac" not in found.caption


def test_ext_link_text_is_kept_for_later_cleaning_and_not_a_figure():
    caption = (
        '<p>Data at <ext-link ext-link-type="uri" xlink:href="http://x.org">http://x.org'
        "</ext-link>.</p>"
    )
    (found,) = figures(article(body=fig("f1", caption)))
    assert found.caption == "Data at http://x.org."
    assert found.graphics == ("f1",)


def test_supplementary_material_inside_caption_is_not_caption_text():
    caption = (
        "<title>Knee MRI.</title><p>Effusion.</p><supplementary-material><label>Source data 1"
        "</label><caption><title>Raw values.</title></caption></supplementary-material>"
    )
    (found,) = figures(article(body=fig("f1", caption)))
    assert found.caption == "Knee MRI. Effusion."


def test_unresolved_dtd_entities_become_their_characters():
    xml = (
        b'<!DOCTYPE article PUBLIC "-//NLM//DTD JATS (Z39.96) Journal Publishing DTD v1.1//EN" '
        b'"JATS-journalpublishing1.dtd">'
        + article(body=fig("f1", "<p>Days 1&ndash;3 &unknownentity;post-op.</p>")).split(b"?>", 1)[
            1
        ]
    )
    (found,) = figures(xml)
    assert found.caption == "Days 1\u20133 post-op."


# ---------------------------------------------------------------- permissions


def test_figure_permissions_override_the_article_licence():
    reproduced = fig(
        "f1",
        inner="<permissions><copyright-statement>© Elsevier</copyright-statement></permissions>",
    )
    cc_by_nc = fig(
        "f2",
        inner=(
            "<permissions><license><ali:license_ref>https://creativecommons.org/licenses/by-nc/"
            "4.0/</ali:license_ref></license></permissions>"
        ),
    )
    parsed = parse_article(
        article(
            body=reproduced + cc_by_nc + fig("f3"),
            meta=(
                '<permissions><license license-type="open-access" '
                'xlink:href="http://creativecommons.org/licenses/by/4.0/"/></permissions>'
            ),
        )
    )
    assert parsed.licence == "CC BY"
    assert [f.licence for f in parsed.figures] == [NO_LICENCE, "CC BY-NC", None]


# ---------------------------------------------------------------- metadata


def test_ids_from_pmcid_ver_pmid_doi_and_plain_pmc():
    meta = (
        '<article-id pub-id-type="pmcid-ver">PMC10009416.2</article-id>'
        '<article-id pub-id-type="pmid">36912345</article-id>'
        '<article-id pub-id-type="doi">10.1/abc</article-id>'
    )
    parsed = parse_article(article(meta=meta))
    assert (parsed.pmcid, parsed.version, parsed.pmid, parsed.doi) == (
        "PMC10009416",
        2,
        "36912345",
        "10.1/abc",
    )
    assert parsed.title == "A case report"
    assert parsed.journal == "Radiol Case Rep"
    plain = parse_article(article(meta='<article-id pub-id-type="pmc">3166277</article-id>'))
    assert (plain.pmcid, plain.version) == ("PMC3166277", None)
    assert parse_article(article()).pmcid is None


def test_earliest_publication_date_prefers_precise_dates_and_ignores_release_dates():
    meta = (
        '<pub-date pub-type="collection"><year>2016</year></pub-date>'
        '<pub-date pub-type="epub"><day>10</day><month>5</month><year>2016</year></pub-date>'
        '<pub-date pub-type="ppub"><month>Jun</month><year>2016</year></pub-date>'
        '<pub-date pub-type="pmc-release"><day>1</day><month>1</month><year>2015</year></pub-date>'
    )
    parsed = parse_article(article(meta=meta))
    assert (parsed.year, parsed.pub_date) == (2016, "2016-05-10")
    iso = '<pub-date date-type="pub" iso-8601-date="2019-12-03"><year>2019</year></pub-date>'
    assert parse_article(article(meta=iso)).pub_date == "2019-12-03"
    assert parse_article(article()).year is None


@pytest.mark.parametrize(
    ("license_type", "url", "text", "code"),
    [
        (None, "http://creativecommons.org/licenses/by/4.0/", None, "CC BY"),
        (None, "https://creativecommons.org/licenses/by-nc-nd/3.0/igo/", None, "CC BY-NC-ND"),
        (None, "http://creativecommons.org/publicdomain/zero/1.0/", None, "CC0"),
        ("cc-by-nc-sa", None, None, "CC BY-NC-SA"),
        ("CC BY-SA", None, None, "CC BY-SA"),
        ("cc by-nd", None, None, "CC BY-ND"),
        ("open-access", None, "Creative Commons Attribution License, which permits", "CC BY"),
        (
            None,
            None,
            "distributed under the Creative Commons Attribution-NonCommercial License, which "
            "permits non-commercial use",
            "CC BY-NC",
        ),
        (
            None,
            None,
            "Creative Commons Attribution Non-Commercial No Derivatives License",
            "CC BY-NC-ND",
        ),
        (None, None, "See http://creativecommons.org/licenses/by-nc/2.0/uk/ for terms", "CC BY-NC"),
        (None, None, "All rights reserved.", NO_LICENCE),
        ("open-access", None, None, NO_LICENCE),
        (None, None, None, NO_LICENCE),
    ],
)
def test_normalise_licence(license_type, url, text, code):
    assert normalise_licence(license_type, url, text) == code


def test_old_copyright_statement_and_license_txt_give_the_licence():
    statement = (
        "<copyright-statement>This is an open-access article distributed under the terms of the "
        "Creative Commons Attribution License.</copyright-statement>"
    )
    assert parse_article(article(meta=statement)).licence == "CC BY"
    licence_txt = "Creative Commons Attribution-NonCommercial 3.0 license"
    parsed = parse_article(article(), licence_text=licence_txt)
    assert parsed.licence == "CC BY-NC"
    assert parse_article(article()).licence == NO_LICENCE


# ---------------------------------------------------------------- graphic resolution


def test_resolve_graphic_prefers_jpg_then_png_gif_tif_and_accepts_exact_names():
    files = ["pone.0012255.g001.gif", "pone.0012255.g001.jpg", "x.tif", "y.PNG", "z.gif"]
    assert resolve_graphic("pone.0012255.g001", files) == "pone.0012255.g001.jpg"
    assert resolve_graphic("x.tif", files) == "x.tif"
    assert resolve_graphic("x.jpg", files) == "x.tif"  # publisher .jpg shipped as .tif
    assert resolve_graphic("y", files) == "y.PNG"
    assert resolve_graphic("z", files) == "z.gif"
    assert resolve_graphic("figures/../z.gif", files) == "z.gif"
    assert resolve_graphic("missing", files) is None
    assert resolve_graphic("", files) is None


# ---------------------------------------------------------------- safety


def test_malformed_xml_is_a_jats_error_with_the_parser_message():
    with pytest.raises(JatsError, match="line 1"):
        parse_article(b"<article><front></article>")


def test_non_article_root_and_oversized_input_are_refused():
    with pytest.raises(JatsError, match="not a JATS"):
        parse_article(b"<html/>")
    with pytest.raises(JatsError, match="above the limit"):
        parse_article(article(), max_bytes=100)


def test_external_entities_are_never_read():
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE article [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<article xmlns:xlink="http://www.w3.org/1999/xlink"><body><fig id="f"><caption><p>A &x;'
        b' B</p></caption><graphic xlink:href="g"/></fig></body></article>'
    )
    (found,) = parse_article(xxe).figures
    assert "root" not in found.caption
    assert found.caption == "A B"


def test_billion_laughs_does_not_expand():
    lol = b"".join(
        b'<!ENTITY lol%d "%s">' % (i, b"".join(b"&lol%d;" % (i - 1) for _ in range(10)))
        for i in range(1, 10)
    )
    xml = (
        b'<?xml version="1.0"?><!DOCTYPE article [<!ENTITY lol0 "lol">'
        + lol
        + b']><article xmlns:xlink="http://www.w3.org/1999/xlink"><body><fig id="f"><caption>'
        b'<p>&lol9;</p></caption><graphic xlink:href="g"/></fig></body></article>'
    )
    try:
        parsed = parse_article(xml)
    except JatsError:
        return  # refusing the document is as good as not expanding it
    assert len(parsed.figures[0].caption) < 100
