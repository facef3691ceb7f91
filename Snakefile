# roco: rebuild the ROCOv2 radiology image-caption dataset from PubMed Central.
# Per chunk: extract -> classify (and hash) -> annotate. Global tail: dedup -> split -> shards -> report.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/sources.smk"
include: "workflow/rules/plan.smk"
include: "workflow/rules/extract.smk"
include: "workflow/rules/classify.smk"
include: "workflow/rules/annotate.smk"
include: "workflow/rules/dedup.smk"
include: "workflow/rules/release.smk"


rule all:
    default_target: True
    input:
        get_final_outputs(),
