from roco import extract, joblog, plan, sources, tables

joblog.setup(snakemake.log[0])
rows = plan.chunk_rows(snakemake.params.articles, snakemake.wildcards.chunk)
cfg = extract.ExtractConfig.from_settings(snakemake.params.settings)
source = sources.open_source(snakemake.params.source, {row.pmcid for row in rows})
rejects = extract.extract_file(source, rows, cfg, snakemake.output.figures)
tables.write_frame(rejects, snakemake.output.rejects, "rejects")
