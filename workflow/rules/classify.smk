# Trained once per build and then kept: its only input is ancient, so an update of PMC (a new
# plan, changed chunks) never retrains it and never re-runs the classification of old chunks.
# `snakemake -R train_classifier` retrains on purpose.
rule train_classifier:
    input:
        articles=ancient(PLAN_ARTICLES),
        labelled=config["classify"]["labelled"] or [],
    output:
        model=RESULTS / "model" / "classifier.json",
        metrics=RESULTS / "model" / "training.json",
    log:
        RESULTS / "logs" / "train_classifier.log",
    benchmark:
        RESULTS / "benchmarks" / "train_classifier.tsv"
    conda:
        "../../envs/classify.yaml"
    threads: 1
    resources:
        # Images become features batch by batch: measured peak ~320 MB for a sample of 2,438
        # figures with 177 KB images (bench/bench_memory.py).
        mem_mb=2000,
        runtime=60,
    params:
        source=config["source"],
        settings=get_extract_settings(),
        sample=config["classify"]["train_articles"],
    script:
        "../scripts/train_classifier.py"


# Classifies a chunk's figures and hashes the kept ones in the same job (roco.classify_file):
# a separate hash job per chunk cost more Python start-up than its hashing, and 25% more jobs in
# the DAG (bench/bench_throughput.py, bench/bench_dag.py).
rule classify:
    input:
        figures=CHUNK / "figures.parquet",
        model=rules.train_classifier.output.model,
        # A user ONNX image model is an input: replacing the file re-runs classify.
        onnx=config["classify"]["onnx_model"] or [],
    output:
        hashed=intermediate(CHUNK / "hashed.parquet"),
        classify_rejects=CHUNK / "classify_rejects.parquet",
        hash_rejects=CHUNK / "hash_rejects.parquet",
    log:
        RESULTS / "logs" / "classify" / "{chunk}.log",
    benchmark:
        RESULTS / "benchmarks" / "classify" / "{chunk}.tsv"
    group:
        "chunk"
    conda:
        "../../envs/classify.yaml"
    threads: 1
    resources:
        # Figures stream through in batches: measured peak ~900 MB (bench/bench_memory.py).
        mem_mb=lambda wc, attempt: attempt * 1500,
        runtime=lambda wc, attempt: attempt * (10 + config["chunk_size"] // 500),
    params:
        thresholds=config["classify"],
    script:
        "../scripts/classify.py"
