import json
from pathlib import Path

from roco import joblog
from roco.demo import generate_demo_corpus
from roco.tables import atomic_write_text

joblog.setup(snakemake.log[0])
summary = generate_demo_corpus(
    Path(snakemake.params.dir), snakemake.params.articles, snakemake.params.seed
)
atomic_write_text(snakemake.output.summary, json.dumps(summary, indent=2, sort_keys=True) + "\n")
