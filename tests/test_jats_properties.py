"""Property-based tests: generated JATS variants, every figure graphic found with its caption.

Hypothesis builds articles with figures in every place JATS allows them (body sections, back
matter, floats-group, sub-articles, fig-groups), with 1-3 graphics each, inline formulas and
ext-links inside captions, and distractor graphics (formulas, tables) that are not figures. The
expectation is computed from the generated structure, not from the extractor.
"""

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from roco import jats

WORDS = st.sampled_from(["axial", "CT", "shows", "lesion", "right", "lobe", "contrast", "MRI"])


@st.composite
def figures(draw, prefix):
    n_graphics = draw(st.integers(1, 3))
    words = draw(st.lists(WORDS, min_size=2, max_size=8))
    formula = draw(st.booleans())
    link = draw(st.booleans())
    text = " ".join(words)
    body = text
    if formula:
        body += " with <inline-formula><alt-text>p &lt; 0.05</alt-text></inline-formula>"
    if link:
        body += ' (<ext-link xlink:href="https://x.org">https://x.org</ext-link>)'
    graphics = "".join(f'<graphic xlink:href="{prefix}-g{k}"/>' for k in range(n_graphics))
    xml = (
        f'<fig id="{prefix}"><label>Figure</label><caption><p>{body}.</p></caption>{graphics}</fig>'
    )
    return xml, n_graphics, text


@st.composite
def articles(draw):
    places = ["body", "back", "floats", "sub", "group"]
    figs = []
    for i in range(draw(st.integers(0, 6))):
        place = draw(st.sampled_from(places))
        xml, n, text = draw(figures(f"f{i}"))
        figs.append((place, xml, n, text))
    distractors = draw(st.integers(0, 2))
    return figs, distractors


def render(figs, distractors):
    def at(place):
        return "".join(x for p, x, _, _ in figs if p == place)

    grouped = at("group")
    group = (
        f'<fig-group id="g"><caption><p>Group.</p></caption>{grouped}</fig-group>'
        if grouped
        else ""
    )
    noise = '<disp-formula><graphic xlink:href="eq"/></disp-formula>' * distractors
    noise += '<table-wrap><graphic xlink:href="tab"/></table-wrap>' * distractors
    return (
        '<article xmlns:xlink="http://www.w3.org/1999/xlink"><front><article-meta>'
        '<article-id pub-id-type="pmc">123</article-id></article-meta></front>'
        f"<body><sec><p>Text {noise}</p>{at('body')}{group}</sec></body>"
        f"<back><app-group><app>{at('back')}</app></app-group></back>"
        f"<floats-group>{at('floats')}</floats-group>"
        f"<sub-article><body>{at('sub')}</body></sub-article></article>"
    ).encode()


@settings(max_examples=150, deadline=None)
@given(articles())
def test_every_figure_graphic_is_found_with_its_caption(generated):
    figs, distractors = generated
    article = jats.parse_article(render(figs, distractors))
    assert sorted(f.figure_id for f in article.figures) == sorted(
        x.split('"')[1] for _, x, _, _ in figs
    )
    found = {f.figure_id: f for f in article.figures}
    for _, xml, n_graphics, text in figs:
        fig = found[xml.split('"')[1]]
        assert len(fig.graphics) == n_graphics
        assert text in fig.caption
        assert not re.search(r"</?[a-z-]+[ >]", fig.caption)  # no markup left over
        if "inline-formula" in xml:
            assert "p < 0.05" in fig.caption
