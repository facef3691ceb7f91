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
        mem_mb=2000,
        runtime=120,
    params:
        # The chunk's digest (its articles' keys and ETags): the chunk re-runs when it changes.
        digest=get_chunk_digest,
        articles=PLAN_ARTICLES,
        source=config["source"],
        licences=config["licences"],
        captions=config["captions"],
        min_image_side=config["images"]["min_side"],
    script:
        "../scripts/extract.py"
