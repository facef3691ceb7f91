import logging
from pathlib import Path

from roco import kb

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
kb.build_index(Path(snakemake.input.kb), Path(snakemake.output.index))
