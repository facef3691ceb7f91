rule build_kb:
    output:
        index=directory(RESULTS / "kb" / "index"),
    log:
        RESULTS / "logs" / "build_kb.log",
    benchmark:
        RESULTS / "benchmarks" / "build_kb.tsv"
    conda:
        "../../envs/annotate.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    script:
        "../scripts/build_kb.py"


rule annotate:
    input:
        hashed=CHUNK / "hashed.parquet",
        index=rules.build_kb.output.index,
    output:
        annotated=CHUNK / "annotated.parquet",
        rejects=CHUNK / "annotate_rejects.parquet",
    log:
        RESULTS / "logs" / "annotate" / "{chunk}.log",
    benchmark:
        RESULTS / "benchmarks" / "annotate" / "{chunk}.tsv"
    group:
        "chunk"
    conda:
        "../../envs/annotate.yaml"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=120,
    script:
        "../scripts/annotate.py"
