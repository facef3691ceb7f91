import logging
from pathlib import Path

from roco import umls

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
n = umls.build_umls_kb(
    Path(snakemake.input.mrconso),
    Path(snakemake.input.mrsty),
    Path(snakemake.output.kb),
    sources=snakemake.params.sources,
)
logging.info("UMLS knowledge base: %d concepts", n)
