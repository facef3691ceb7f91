"""Tables: schemas from workflow/schemas, atomic deterministic Parquet, no silent column loss."""

import dataclasses
import hashlib
from types import SimpleNamespace

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from roco import tables


def test_schemas_inherit_their_parents_columns():
    figures = tables.arrow_schema("figures").names
    annotated = tables.arrow_schema("annotated").names
    assert annotated[: len(figures)] == figures
    assert {"radiology_score", "phash", "cuis"} <= set(annotated)
    assert tables.arrow_schema("figures").field("image").type == pa.binary()
    assert tables.arrow_schema("annotated").field("cuis").type == pa.list_(pa.string())


def test_extra_columns_are_an_error():
    frame = tables.rejects_frame([{"stage": "s", "reason": "r", "pmcid": "PMC1"}])
    with pytest.raises(ValueError, match="not in the 'rejects' schema"):
        tables.to_arrow(frame.assign(surprise=1), "rejects")


def test_write_is_deterministic_and_leaves_no_partial_file(tmp_path, annotated):
    tables.write_frame(annotated, tmp_path / "a.parquet", "annotated")
    tables.write_frame(annotated, tmp_path / "b.parquet", "annotated")
    digest = [
        hashlib.sha256((tmp_path / n).read_bytes()).hexdigest() for n in ("a.parquet", "b.parquet")
    ]
    assert digest[0] == digest[1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.parquet", "b.parquet"]


def test_read_several_files_and_empty_lists(tmp_path, annotated):
    tables.write_frame(annotated.iloc[:10], tmp_path / "a.parquet", "annotated")
    tables.write_frame(annotated.iloc[10:], tmp_path / "b.parquet", "annotated")
    both = tables.read_frame([tmp_path / "a.parquet", tmp_path / "b.parquet"], "annotated")
    assert list(both["id"]) == list(annotated["id"])
    empty = tables.read_frame([], "rejects")
    assert list(empty.columns) == list(tables.REJECT_COLUMNS) and empty.empty


def test_empty_frame_without_columns_writes_an_empty_table(tmp_path):
    tables.write_frame(pd.DataFrame(), tmp_path / "e.parquet", "figures")
    assert tables.read_frame(tmp_path / "e.parquet", "figures").empty


# -- streaming: TableWriter, iter_frames, map_table and the stages built on them -----------------


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_in_pieces(frame, path, cuts, **groups):
    with tables.TableWriter(path, "annotated", **groups) as writer:
        for start, end in zip([0, *cuts], [*cuts, len(frame)], strict=True):
            writer.write(frame.iloc[start:end])
    return path


def test_batched_writer_bytes_do_not_depend_on_the_batches(tmp_path, annotated):
    groups = {"group_rows": 7, "group_bytes": 20_000}  # both limits cut groups here
    one = write_in_pieces(annotated, tmp_path / "one.parquet", [], **groups)
    many = write_in_pieces(annotated, tmp_path / "many.parquet", [1, 2, 9, 10, 23], **groups)
    assert sha(one) == sha(many)
    meta = pq.read_metadata(many)
    assert meta.num_row_groups > 30 // 7 and all(
        meta.row_group(g).num_rows <= 7 for g in range(meta.num_row_groups)
    )
    back = tables.read_frame(many, "annotated")
    assert list(back["id"]) == list(annotated["id"])
    assert list(back["image"]) == list(annotated["image"])


def test_batched_writer_equals_the_one_shot_writer(tmp_path, annotated):
    table = tables.to_arrow(annotated, "annotated").replace_schema_metadata(None)
    tables.write_parquet(table, tmp_path / "shot.parquet")
    write_in_pieces(annotated, tmp_path / "pieces.parquet", [3, 4, 17])
    assert sha(tmp_path / "shot.parquet") == sha(tmp_path / "pieces.parquet")
    tables.write_parquet(table.slice(0, 0), tmp_path / "empty-shot.parquet")
    write_in_pieces(annotated.iloc[:0], tmp_path / "empty.parquet", [])
    assert sha(tmp_path / "empty-shot.parquet") == sha(tmp_path / "empty.parquet")


def test_batched_writer_leaves_nothing_when_the_block_fails(tmp_path, annotated):
    with pytest.raises(RuntimeError), tables.TableWriter(tmp_path / "t.parquet", "annotated") as w:
        w.write(annotated)
        raise RuntimeError("job killed")
    assert list(tmp_path.iterdir()) == []


def test_iter_frames_reads_every_row_in_order_in_small_batches(tmp_path, annotated):
    path = write_in_pieces(annotated, tmp_path / "t.parquet", [], group_rows=8)
    frames = list(tables.iter_frames(path, "annotated", batch_rows=5, columns=["id", "image"]))
    assert max(len(f) for f in frames) <= 5
    assert list(pd.concat(frames)["id"]) == list(annotated["id"])


def test_map_table_keeps_order_and_gathers_rejects(tmp_path, annotated):
    source = write_in_pieces(annotated, tmp_path / "in.parquet", [], group_rows=4)

    def step(frame):
        odd = frame["id"].str[-1].isin(list("13579"))
        dropped = [
            {"stage": "t", "reason": "odd", "pmcid": p, "detail": ""}
            for p in frame.loc[odd, "pmcid"]
        ]
        return frame[~odd], dropped

    rejects = tables.map_table(source, "annotated", tmp_path / "out.parquet", "annotated", step, 6)
    kept = tables.read_frame(tmp_path / "out.parquet", "annotated")
    assert list(kept["id"]) == [i for i in annotated["id"] if i[-1] not in "13579"]
    assert list(rejects["pmcid"]) == [
        p for i, p in zip(annotated["id"], annotated["pmcid"], strict=True) if i[-1] in "13579"
    ]


@pytest.fixture(scope="module")
def demo_figures(tmp_path_factory):
    """Figures of a small generated PMC-shaped corpus: (source, inventory rows, extract config)."""
    from roco import demo, extract, sources

    root = tmp_path_factory.mktemp("demo")
    demo.generate_demo_corpus(root, 40, seed=3)
    source = sources.local_bucket(root)
    rows = source.inventory()
    return source, rows, extract.ExtractConfig(licences=frozenset({"CC BY", "CC BY-NC", "CC0"}))


def test_streamed_stages_write_the_rows_of_the_one_shot_stages(tmp_path, demo_figures):
    from roco import classify, concepts, extract, phash

    source, rows, cfg = demo_figures
    figures, rejects = extract.extract_chunk(source, rows, cfg)
    streamed = extract.extract_file(source, rows, cfg, tmp_path / "f.parquet", batch_articles=3)
    assert len(figures) > 20
    assert tables.read_frame(tmp_path / "f.parquet", "figures").equals(
        tables.read_frame(write(figures, tmp_path / "f1.parquet", "figures"), "figures")
    )
    assert streamed.equals(rejects)

    model, ccfg = classify.load_model(None), classify.ClassifyConfig()
    kept, classify_rejects = classify.classify_chunk(figures, model, ccfg)
    hashed, hash_rejects = phash.hash_chunk(kept)
    got = classify.classify_file(
        tmp_path / "f.parquet", tmp_path / "h.parquet", model, ccfg, None, 4
    )
    assert same_rows(tmp_path / "h.parquet", hashed, "hashed")
    for stage, rejects in (("classify", classify_rejects), ("hash", hash_rejects)):
        ours = got[got["stage"] == stage].reset_index(drop=True)
        assert tables.to_arrow(ours, "rejects").equals(tables.to_arrow(rejects, "rejects"))
    annotator = concepts.Annotator()
    annotated, rejects = concepts.annotate_chunk(hashed, annotator)
    got = concepts.annotate_file(tmp_path / "h.parquet", tmp_path / "a.parquet", annotator, 3)
    assert same_rows(tmp_path / "a.parquet", annotated, "annotated") and got.equals(rejects)


def write(frame, path, name):
    tables.write_frame(frame, path, name)
    return path


def same_rows(path, frame, name) -> bool:
    other = path.with_name(f"one-shot-{path.name}")
    return tables.read_frame(path, name).equals(tables.read_frame(write(frame, other, name), name))


def test_extract_fails_the_chunk_as_a_whole_and_leaves_no_table(tmp_path, demo_figures):
    from roco import extract

    source, rows, cfg = demo_figures
    strict = dataclasses.replace(cfg, max_failure_rate=0.0, failure_min_articles=1)
    broken = [dataclasses.replace(r, key=r.key + ".missing") for r in rows[:5]] + rows[5:]
    with pytest.raises(extract.FailureRateError):
        extract.extract_file(source, broken, strict, tmp_path / "f.parquet", batch_articles=2)
    assert list(tmp_path.iterdir()) == []


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["PMC1", "PMC12", "PMC2", "PMC1_2", "PMC1_", "PMC10", "PMC9"]),
            st.lists(st.sampled_from(["F1", "F2", "fig1", "1", "_2", "a"]), max_size=4),
        ),
        max_size=25,
    ),
    st.integers(1, 6),
)
def test_article_batches_give_the_chunk_sorted_by_id(articles, size):
    from roco import extract

    rows = [SimpleNamespace(pmcid=pmcid) for pmcid, _ in articles]
    ids = [[f"{pmcid}_{s}" for s in suffixes] for pmcid, suffixes in articles]
    whole = sorted(i for article in ids for i in article)
    batched = []
    for batch in extract.article_batches(rows, size):
        batched += sorted(i for n in batch for i in ids[n])
    assert batched == whole
    assert sorted(n for b in extract.article_batches(rows, size) for n in b) == list(
        range(len(rows))
    )


def test_figures_in_batches_are_the_figures_of_the_whole_chunk(demo_figures):
    from roco import extract

    source, rows, cfg = demo_figures
    whole = extract.extract_chunk(source, rows, cfg)[0]
    batches = list(extract.iter_figures(source, rows, cfg, batch_articles=3))
    assert len(batches) > 3 and all(len(b) for b in batches)
    assert pd.concat(batches, ignore_index=True).equals(whole)
