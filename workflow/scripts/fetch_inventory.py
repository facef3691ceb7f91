import logging

from roco import fetch, joblog

joblog.setup(snakemake.log[0])
rows = fetch.fetch_inventory(fetch.cached_fetch(snakemake.params.source), snakemake.wildcards.date)
logging.info("inventory %s: %d article versions", snakemake.wildcards.date, len(rows))
