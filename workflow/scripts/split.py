from roco import joblog, split, tables

joblog.setup(snakemake.log[0])
pmcids = tables.read_frame(snakemake.input.annotated, "annotated", columns=["pmcid"])["pmcid"]
splits = split.assign_splits(pmcids, snakemake.params.proportions, snakemake.params.salt)
tables.write_frame(splits, snakemake.output.splits, "splits")
