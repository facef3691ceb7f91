"""A bad config value stops the run with the key named."""

import pytest
from workflow_helpers import snakemake, write_config


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("chunk_size", 0, "chunk_size"),
        ("licences", ["CC BY", "CC-BY-4"], "licences"),
        ("dedup", {"radius": "four"}, "radius"),
    ],
)
def test_bad_value_names_the_key(tmp_path, key, value, named):
    result = snakemake(write_config(tmp_path, **{key: value}), "-n", check=False)
    assert result.returncode != 0
    assert named in result.stdout + result.stderr


def test_a_configured_linker_directory_is_used_without_building_one(tmp_path):
    target = str(tmp_path / "results" / "chunks" / "c01001" / "annotated.parquet")
    snakemake(write_config(tmp_path), str(tmp_path / "results" / "plan" / "chunks.tsv"))
    built = snakemake(write_config(tmp_path), "-n", target).stdout
    assert "build_kb" in built
    (tmp_path / "linker").mkdir()
    config = write_config(
        tmp_path,
        annotate={
            "kb": None,
            "index": str(tmp_path / "linker"),
            "umls": {"mrconso": None, "mrsty": None, "sources": ["MTH"]},
        },
    )
    assert "build_kb" not in snakemake(config, "-n", target).stdout
