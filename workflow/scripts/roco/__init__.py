"""roco: rebuild ROCOv2-style radiology image-caption datasets from PubMed Central.

One module per stage, in the order data flows: sources, plan, jats, captions, images,
classify, phash, dedup, concepts, split, shards, export, report; small shared modules
(tables for the inter-stage schemas and atomic Parquet I/O) sit beside them.
"""
