rule split:
    input:
        annotated=get_annotated,
    output:
        splits=RESULTS / "split" / "splits.parquet",
    log:
        RESULTS / "logs" / "split.log",
    benchmark:
        RESULTS / "benchmarks" / "split.tsv"
    conda:
        "../../envs/extract.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        proportions=config["split"]["proportions"],
        salt=config["split"]["salt"],
    script:
        "../scripts/split.py"


rule dataset:
    input:
        annotated=get_annotated,
        duplicates=rules.dedup.output.duplicates,
        splits=rules.split.output.splits,
    output:
        dataset=directory(RESULTS / "dataset"),
    log:
        RESULTS / "logs" / "dataset.log",
    benchmark:
        RESULTS / "benchmarks" / "dataset.tsv"
    conda:
        "../../envs/extract.yaml"
    threads: 1
    resources:
        # One shard at a time is gathered from the chunk files.
        mem_mb=lambda wc, attempt: attempt
        * (1000 + 3 * int(config["shards"]["target_mb"])),
        runtime=60,
    params:
        target_mb=config["shards"]["target_mb"],
    script:
        "../scripts/dataset.py"


rule report:
    input:
        dataset=rules.dataset.output.dataset,
        plan_rejects=rules.plan.output.rejects,
        chunk_rejects=get_chunk_rejects,
        dedup_rejects=rules.dedup.output.rejects,
    output:
        report=RESULTS / "report" / "report.md",
        stats=RESULTS / "report" / "stats.json",
        funnel=report(
            RESULTS / "report" / "funnel.csv",
            caption="../report/funnel.rst",
            category="Funnel",
        ),
        modalities=report(
            RESULTS / "report" / "modalities.png",
            caption="../report/modalities.rst",
            category="Distributions",
        ),
        licences=report(
            RESULTS / "report" / "licences.png",
            caption="../report/licences.rst",
            category="Distributions",
        ),
        caption_lengths=report(
            RESULTS / "report" / "caption_lengths.png",
            caption="../report/caption_lengths.rst",
            category="Distributions",
        ),
        samples=report(
            RESULTS / "report" / "samples.jpg",
            caption="../report/samples.rst",
            category="Samples",
        ),
    log:
        RESULTS / "logs" / "report.log",
    benchmark:
        RESULTS / "benchmarks" / "report.tsv"
    conda:
        "../../envs/report.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        samples_per_modality=6,
    script:
        "../scripts/report.py"


rule export:
    input:
        dataset=rules.dataset.output.dataset,
    output:
        release=directory(RESULTS / "rocov2"),
    log:
        RESULTS / "logs" / "export.log",
    benchmark:
        RESULTS / "benchmarks" / "export.tsv"
    conda:
        "../../envs/extract.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        prefix=config["export"]["id_prefix"],
    script:
        "../scripts/export.py"
