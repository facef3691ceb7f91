rule demo_corpus:
    output:
        summary=RESULTS / "demo-corpus.json",
    log:
        RESULTS / "logs" / "demo_corpus.log",
    benchmark:
        RESULTS / "benchmarks" / "demo_corpus.tsv"
    conda:
        "../../envs/classify.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        dir=SOURCE_DIR,
        articles=config["source"].get("demo_articles", 240),
        seed=config["source"].get("demo_seed", 7),
    script:
        "../scripts/demo_corpus.py"
