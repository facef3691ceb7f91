import logging

from roco import fetch

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
rows = fetch.fetch_inventory(fetch.cached_fetch(snakemake.params.source), snakemake.wildcards.date)
logging.info("inventory %s: %d article versions", snakemake.wildcards.date, len(rows))
