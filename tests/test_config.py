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
