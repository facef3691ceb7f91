from pathlib import Path

from roco import joblog, kb

joblog.setup(snakemake.log[0])
kb.build_index(Path(snakemake.input.kb), Path(snakemake.output.index))
