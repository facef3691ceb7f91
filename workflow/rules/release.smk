rule split:
    input:
        annotated=get_annotated,
    output:
        splits=RESULTS / "split" / "splits.parquet",
    params:
        proportions=config["split"]["proportions"],
        salt=config["split"]["salt"],
    log:
        RESULTS / "logs" / "split.log",
    benchmark:
        RESULTS / "benchmarks" / "split.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/extract.yaml"
    script:
        "../scripts/split.py"


rule shards:
    input:
        annotated=get_annotated,
        duplicates=rules.dedup.output.duplicates,
        splits=rules.split.output.splits,
    output:
        dataset=directory(RESULTS / "dataset"),
    params:
        target_mb=config["shards"]["target_mb"],
    log:
        RESULTS / "logs" / "shards.log",
    benchmark:
        RESULTS / "benchmarks" / "shards.tsv"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=60,
    conda:
        "../../envs/extract.yaml"
    script:
        "../scripts/shards.py"


rule report:
    input:
        dataset=rules.shards.output.dataset,
        plan_rejects=rules.plan.output.rejects,
        chunk_rejects=get_chunk_rejects,
        dedup_rejects=rules.dedup.output.rejects,
    output:
        report=RESULTS / "report" / "report.md",
        stats=RESULTS / "report" / "stats.json",
    log:
        RESULTS / "logs" / "report.log",
    benchmark:
        RESULTS / "benchmarks" / "report.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/extract.yaml"
    script:
        "../scripts/report.py"
