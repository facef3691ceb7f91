rule extract:
    output:
        figures=intermediate(CHUNK / "figures.parquet"),
        rejects=CHUNK / "extract_rejects.parquet",
    log:
        RESULTS / "logs" / "extract" / "{chunk}.log",
    benchmark:
        RESULTS / "benchmarks" / "extract" / "{chunk}.tsv"
    group:
        "chunk"
    conda:
        "../../envs/extract.yaml"
    threads: 1
    resources:
        # Articles stream through in batches, so memory does not grow with the chunk:
        # measured peak ~600 MB (bench/bench_memory.py); retries ask for 2x, then 3x.
        mem_mb=lambda wc, attempt: attempt * 1500,
        # Fetching dominates: ~10 requests/s to the bucket, ~6 requests per article.
        runtime=lambda wc, attempt: attempt * (30 + config["chunk_size"] // 100),
    params:
        # The chunk's digest (its articles' keys and ETags): the chunk re-runs when it changes.
        digest=get_chunk_digest,
        articles=PLAN_ARTICLES,
        source=config["source"],
        settings=get_extract_settings(),
    script:
        "../scripts/extract.py"
