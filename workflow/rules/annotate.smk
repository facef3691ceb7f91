rule umls_kb:
    input:
        mrconso=config["annotate"]["umls"]["mrconso"] or [],
        mrsty=config["annotate"]["umls"]["mrsty"] or [],
    output:
        kb=RESULTS / "kb" / "umls.jsonl",
    log:
        RESULTS / "logs" / "umls_kb.log",
    benchmark:
        RESULTS / "benchmarks" / "umls_kb.tsv"
    conda:
        "../../envs/annotate.yaml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        sources=config["annotate"]["umls"]["sources"],
    script:
        "../scripts/umls_kb.py"


rule build_kb:
    input:
        kb=get_kb,
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
        index=get_kb_index,
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
        # Batches of figures plus the scispaCy pipeline and the index: measured peak ~960 MB.
        mem_mb=lambda wc, attempt: attempt * 1500,
        runtime=lambda wc, attempt: attempt * (10 + config["chunk_size"] // 500),
    script:
        "../scripts/annotate.py"
