import logging

from roco import split, tables

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
pmcids = tables.read_frame(snakemake.input.annotated, "annotated", columns=["pmcid"])["pmcid"]
splits = split.assign_splits(pmcids, snakemake.params.proportions, snakemake.params.salt)
tables.write_frame(splits, snakemake.output.splits, "splits")
