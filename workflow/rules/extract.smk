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
        # The chunk's figures, images included, are held in memory: measured ~5x the image
        # bytes (~1 MB per 200 KB figure). 0.5 MB per PMC id suits PMC's sparser id ranges;
        # a dense chunk that runs out is retried with 2x, then 3x (profiles: retries: 2).
        mem_mb=lambda wc, attempt: attempt * (1000 + config["chunk_size"] // 2),
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
