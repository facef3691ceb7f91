from roco import joblog, phash, tables

joblog.setup(snakemake.log[0])
hashed, rejects = phash.hash_chunk(tables.read_frame(snakemake.input.classified, "classified"))
tables.write_frame(hashed, snakemake.output.hashed, "hashed")
tables.write_frame(rejects, snakemake.output.rejects, "rejects")
