import logging

from roco import joblog, plan, sources, tables

joblog.setup(snakemake.log[0])
rows = sources.open_source(snakemake.params.source).inventory()
articles, rejects = plan.plan_articles(rows, snakemake.params.chunk_size)
digests = plan.chunk_digests(articles)
tables.write_frame(articles, snakemake.output.articles, "articles")
tables.write_frame(tables.rejects_frame(rejects), snakemake.output.rejects, "rejects")
plan.write_chunks(digests, articles, snakemake.output.chunks)
logging.info(
    "plan: %d inventory rows, %d articles, %d chunks", len(rows), len(articles), len(digests)
)
