import logging
from pathlib import Path

from roco import concepts

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
concepts.build_index(concepts.BUILTIN_KB, Path(snakemake.output.index))
