rule dedup:
    input:
        annotated=get_annotated,
    output:
        duplicates=RESULTS / "dedup" / "duplicates.parquet",
        rejects=RESULTS / "dedup" / "rejects.parquet",
    params:
        radius=config["dedup"]["radius"],
    log:
        RESULTS / "logs" / "dedup.log",
    benchmark:
        RESULTS / "benchmarks" / "dedup.tsv"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=60,
    conda:
        "../../envs/classify.yaml"
    script:
        "../scripts/dedup.py"
