rule extract:
    output:
        figures=intermediate(CHUNK / "figures.parquet"),
        rejects=CHUNK / "extract_rejects.parquet",
    log:
        RESULTS / "logs" / "extract" / "{chunk}.log",
    benchmark:
        RESULTS / "benchmarks" / "extract" / "{chunk}.tsv"
    # Not in group "chunk": train_classifier reads the figures of the first chunks, so an
    # extract inside the group that classify runs in would make a cycle between group jobs.
    group:
        "extract"
    conda:
        "../../envs/extract.yaml"
    threads: 1
    resources:
        # A chunk's figures (images included) are held in memory: about 0.5 MB per PMC id at PMC's
        # density (~0.5 open-access articles per id, ~5 figures of ~200 KB). Doubled on a retry.
        mem_mb=lambda wc, attempt: attempt * (1000 + config["chunk_size"] // 2),
        # Fetching dominates: ~10 requests/s to the bucket, ~6 requests per article.
        runtime=lambda wc, attempt: attempt * (30 + config["chunk_size"] // 100),
    params:
        # The chunk's digest (its articles' keys and ETags): the chunk re-runs when it changes.
        digest=get_chunk_digest,
        articles=PLAN_ARTICLES,
        source=config["source"],
        licences=config["licences"],
        captions=config["captions"],
        min_image_side=config["images"]["min_side"],
        extract=config["extract"],
    script:
        "../scripts/extract.py"
