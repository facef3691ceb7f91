checkpoint plan:
    input:
        inventory=get_inventory,
    output:
        chunks=PLAN_CHUNKS,
        articles=PLAN_ARTICLES,
        rejects=RESULTS / "plan" / "rejects.parquet",
    params:
        source=config["source"],
        chunk_size=config["chunk_size"],
    log:
        RESULTS / "logs" / "plan.log",
    benchmark:
        RESULTS / "benchmarks" / "plan.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../../envs/extract.yaml"
    script:
        "../scripts/plan.py"
