import logging
from pathlib import Path

from roco import export, joblog

joblog.setup(snakemake.log[0])
counts = export.export_rocov2(
    Path(snakemake.input.dataset) / "data", Path(snakemake.output.release), snakemake.params.prefix
)
logging.info("export: %s", counts)
