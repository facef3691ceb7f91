from roco import joblog, phash, tables

joblog.setup(snakemake.log[0])
rejects = phash.hash_file(snakemake.input.classified, snakemake.output.hashed)
tables.write_frame(rejects, snakemake.output.rejects, "rejects")
