import logging

from roco import phash, tables

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
hashed, rejects = phash.hash_chunk(tables.read_frame(snakemake.input.classified, "classified"))
tables.write_frame(hashed, snakemake.output.hashed, "hashed")
tables.write_frame(rejects, snakemake.output.rejects, "rejects")
