import logging
from pathlib import Path

from roco import export

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
counts = export.export_rocov2(
    Path(snakemake.input.dataset) / "data", Path(snakemake.output.release), snakemake.params.prefix
)
logging.info("export: %s", counts)
