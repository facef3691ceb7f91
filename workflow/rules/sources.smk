rule demo_corpus:
    output:
        summary=RESULTS / "demo-corpus.json",
    params:
        dir=SOURCE_DIR,
        articles=config["source"].get("demo_articles", 240),
        seed=config["source"].get("demo_seed", 7),
    log:
        RESULTS / "logs" / "demo_corpus.log",
    benchmark:
        RESULTS / "benchmarks" / "demo_corpus.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/classify.yaml"
    script:
        "../scripts/demo_corpus.py"
