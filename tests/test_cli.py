"""The roco command: JSON lines on stdout, rejects with a reason on stderr, exit codes."""

import json

import imagehash
from PIL import Image

from roco.cli import main

XML = b"""<article xmlns:xlink="http://www.w3.org/1999/xlink"><front><article-meta>
<article-id pub-id-type="pmcid">PMC42</article-id></article-meta></front><body>
<fig id="f1"><label>Figure 1</label><caption><p>Axial CT of the chest showing a nodule.</p>
</caption><graphic xlink:href="img1"/></fig></body></article>"""


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def image_file(path, colour=(120, 120, 120)):
    Image.new("RGB", (96, 80), colour).save(path, "JPEG")
    return str(path)


def test_extract_prints_one_object_per_graphic(tmp_path, capsys):
    (tmp_path / "a.nxml").write_bytes(XML)
    image_file(tmp_path / "img1.jpg")
    code, rows, _ = run(capsys, "extract", str(tmp_path / "a.nxml"))
    assert code == 0
    assert [(r["pmcid"], r["figure_id"], r["image_file"], r["image_found"]) for r in rows] == [
        ("PMC42", "f1", "img1.jpg", True)
    ]
    assert rows[0]["caption"] == "Axial CT of the chest showing a nodule."


def test_a_broken_article_is_a_reject_on_stderr(tmp_path, capsys):
    (tmp_path / "bad.xml").write_bytes(b"<article><fig>")
    code, rows, err = run(capsys, "extract", str(tmp_path / "bad.xml"))
    assert (code, rows) == (1, [])
    assert json.loads(err)["reason"] == "bad_article"


def test_phash_matches_imagehash(tmp_path, capsys):
    pixels = Image.effect_mandelbrot((300, 200), (-2, -1, 1, 1), 60).convert("RGB")
    pixels.save(tmp_path / "m.png")
    code, rows, _ = run(capsys, "phash", "--exact", str(tmp_path / "m.png"))
    assert code == 0
    assert rows[0]["phash"] == str(imagehash.phash(Image.open(tmp_path / "m.png")))


def test_classify_reports_scores_decision_and_modality(tmp_path, capsys):
    path = image_file(tmp_path / "x.jpg")
    code, rows, _ = run(capsys, "classify", path, "--caption", "Axial CT of the abdomen.")
    assert code == 0
    assert set(rows[0]) >= {
        "image",
        "radiology_score",
        "compound_score",
        "radiology",
        "compound",
        "modality",
        "reason",
    }
    assert rows[0]["modality"] == "CT"


def test_unreadable_image_is_rejected(tmp_path, capsys):
    (tmp_path / "x.jpg").write_bytes(b"not an image")
    code, rows, err = run(capsys, "phash", str(tmp_path / "x.jpg"))
    assert (code, rows) == (1, [])
    assert json.loads(err)["reason"] == "bad_image"


def test_annotate_writes_rocov2_concepts_csv(tmp_path, capsys):
    (tmp_path / "c.csv").write_text('ID,Caption\nA1,"Chest X-ray, PA view."\n')
    assert main(["annotate", str(tmp_path / "c.csv")]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "ID,CUIs"
    cuis = out.splitlines()[1].split(",")[1].split(";")
    assert {"C1306645", "C0817096", "C1996865"} <= set(cuis)


def test_demo_corpus_summary(tmp_path, capsys):
    code, rows, _ = run(capsys, "demo-corpus", str(tmp_path / "d"), "--articles", "30")
    assert code == 0 and rows[0]["articles"] == 30
    assert (tmp_path / "d" / "demo_manifest.json").is_file()


def test_python_dash_m_works():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "roco", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "extract" in done.stdout
