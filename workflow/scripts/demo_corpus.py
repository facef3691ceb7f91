import json
import logging
from pathlib import Path

from roco.demo import generate_demo_corpus

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
summary = generate_demo_corpus(
    Path(snakemake.params.dir), snakemake.params.articles, snakemake.params.seed
)
Path(snakemake.output.summary).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
