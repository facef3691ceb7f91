import logging
from pathlib import Path

from roco import joblog, umls

joblog.setup(snakemake.log[0])
n = umls.build_umls_kb(
    Path(snakemake.input.mrconso),
    Path(snakemake.input.mrsty),
    Path(snakemake.output.kb),
    sources=snakemake.params.sources,
)
logging.info("UMLS knowledge base: %d concepts", n)
