#!/usr/bin/env bash
# Snakemake runs this inside the new annotate env (see annotate.yaml for why --no-deps).
set -euo pipefail
pip install --no-deps scispacy==0.6.2 nmslib-metabrainz==2.1.3
