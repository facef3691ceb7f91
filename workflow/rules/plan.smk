checkpoint plan:
    input:
        inventory=get_inventory,
    output:
        chunks=PLAN_CHUNKS,
        articles=PLAN_ARTICLES,
        rejects=RESULTS / "plan" / "rejects.parquet",
    log:
        RESULTS / "logs" / "plan.log",
    benchmark:
        RESULTS / "benchmarks" / "plan.tsv"
    conda:
        "../../envs/extract.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        source=config["source"],
        chunk_size=config["chunk_size"],
    script:
        "../scripts/plan.py"
