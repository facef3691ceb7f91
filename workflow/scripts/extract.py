import logging

from roco import extract, plan, sources, tables

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)
rows = plan.chunk_rows(snakemake.params.articles, snakemake.wildcards.chunk)
cfg = extract.ExtractConfig(
    licences=frozenset(snakemake.params.licences),
    min_caption_words=snakemake.params.captions["min_words"],
    english_only=snakemake.params.captions["english_only"],
    min_image_side=snakemake.params.min_image_side,
)
figures, rejects = extract.extract_chunk(sources.open_source(snakemake.params.source), rows, cfg)
tables.write_frame(figures, snakemake.output.figures, "figures")
tables.write_frame(rejects, snakemake.output.rejects, "rejects")
