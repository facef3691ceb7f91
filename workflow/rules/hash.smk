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
        # Figures stream through in batches: measured peak ~900 MB (bench/bench_memory.py).
        mem_mb=lambda wc, attempt: attempt * 1500,
        runtime=lambda wc, attempt: attempt * (10 + config["chunk_size"] // 1000),
    script:
        "../scripts/hash.py"
