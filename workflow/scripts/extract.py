import logging

from roco import extract, plan, sources, tables

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
rows = plan.chunk_rows(snakemake.params.articles, snakemake.wildcards.chunk)
cfg = extract.ExtractConfig(
    licences=frozenset(snakemake.params.licences),
    min_caption_words=snakemake.params.captions["min_words"],
    english_only=snakemake.params.captions["english_only"],
    min_image_side=snakemake.params.min_image_side,
    max_failure_rate=snakemake.params.extract["max_failure_rate"],
    failure_min_articles=snakemake.params.extract["min_articles"],
)
try:
    figures, rejects = extract.extract_chunk(
        sources.open_source(snakemake.params.source), rows, cfg
    )
except extract.FailureRateError as err:
    logging.error("%s", err)  # the job log is what a cluster user reads first
    raise
tables.write_frame(figures, snakemake.output.figures, "figures")
tables.write_frame(rejects, snakemake.output.rejects, "rejects")
