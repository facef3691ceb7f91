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


rule cloud_inventory:
    output:
        manifest=SOURCE_DIR / INVENTORY / "{date}" / "manifest.json",
    log:
        RESULTS / "logs" / "cloud_inventory" / "{date}.log",
    benchmark:
        RESULTS / "benchmarks" / "cloud_inventory" / "{date}.tsv"
    wildcard_constraints:
        date=r"\d{4}-\d{2}-\d{2}T\d{2}-\d{2}Z",
    conda:
        "../../envs/extract.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=120,
    params:
        source=config["source"],
    script:
        "../scripts/fetch_inventory.py"
