"""Logging for rule scripts: progress and any uncaught error go to the job's log file.

On a cluster the job log is what a user reads first; Snakemake only points at it. An error that
stops a job (a failure-rate guard, a bad config value) is therefore written there too, with its
traceback, before the script exits.
"""

from __future__ import annotations

import logging
import sys


def setup(path: str) -> None:
    """Log INFO and above to `path`, including the exception that ends the script, if any."""
    logging.basicConfig(
        filename=path, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    previous = sys.excepthook

    def log_then_raise(kind, error, trace):
        logging.getLogger("roco").error("job failed: %s", error, exc_info=(kind, error, trace))
        previous(kind, error, trace)

    sys.excepthook = log_then_raise
