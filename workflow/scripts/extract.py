from roco import extract, joblog, plan, sources, tables

joblog.setup(snakemake.log[0])
rows = plan.chunk_rows(snakemake.params.articles, snakemake.wildcards.chunk)
cfg = extract.ExtractConfig.from_settings(snakemake.params.settings)
figures, rejects = extract.extract_chunk(sources.open_source(snakemake.params.source), rows, cfg)
tables.write_frame(figures, snakemake.output.figures, "figures")
tables.write_frame(rejects, snakemake.output.rejects, "rejects")
