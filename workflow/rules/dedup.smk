rule dedup:
    input:
        annotated=get_annotated,
    output:
        duplicates=RESULTS / "dedup" / "duplicates.parquet",
        rejects=RESULTS / "dedup" / "rejects.parquet",
    log:
        RESULTS / "logs" / "dedup.log",
    benchmark:
        RESULTS / "benchmarks" / "dedup.tsv"
    conda:
        "../../envs/classify.yaml"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        radius=config["dedup"]["radius"],
    script:
        "../scripts/dedup.py"
