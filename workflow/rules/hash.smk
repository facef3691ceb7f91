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
        mem_mb=2000,
        runtime=60,
    script:
        "../scripts/hash.py"
