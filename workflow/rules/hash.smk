rule hash:
    input:
        classified=CHUNK / "classified.parquet",
    output:
        hashed=intermediate(CHUNK / "hashed.parquet"),
        rejects=CHUNK / "hash_rejects.parquet",
    log:
        RESULTS / "logs" / "hash" / "{chunk}.log",
    benchmark:
        RESULTS / "benchmarks" / "hash" / "{chunk}.tsv"
    group:
        "chunk"
    conda:
        "../../envs/classify.yaml"
    threads: 1
    resources:
        # Only the figures classify kept (radiology, not compound): a fraction of extract's.
        mem_mb=lambda wc, attempt: attempt * (1000 + config["chunk_size"] // 5),
        runtime=lambda wc, attempt: attempt * (10 + config["chunk_size"] // 1000),
    script:
        "../scripts/hash.py"
