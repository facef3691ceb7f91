"""The `roco` command: run one stage by hand on single articles, images or captions.

Every subcommand prints one JSON object per item on stdout (so it composes with jq) and one JSON
object per reject, with its reason, on stderr. The exit status is 1 when any input was rejected
as a whole (unreadable article or image), 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from roco.fetch_cli import add_parser as add_fetch_parser
from roco.modalities import MODALITIES


def _emit(obj: dict, stream=None) -> None:
    print(json.dumps(obj, ensure_ascii=False, sort_keys=False), file=stream or sys.stdout)


def _reject(item: str, reason: str, detail: str) -> None:
    _emit({"item": item, "reason": reason, "detail": detail}, sys.stderr)


def cmd_extract(args) -> int:
    from roco import archive, captions, jats

    failed = 0
    for path in args.paths:
        try:
            files = archive.read_article_path(Path(path), allow_truncated=args.allow_truncated)
            article = jats.parse_article(files.xml, licence_text=files.licence_text)
        except (archive.ArchiveError, jats.JatsError, OSError) as err:
            _reject(path, "bad_article", str(err))
            failed += 1
            continue
        meta = {
            k: getattr(article, k)
            for k in ("pmcid", "version", "pmid", "doi", "title", "journal", "year", "pub_date")
        }
        for fig in article.figures:
            caption = captions.clean_caption(fig.caption)
            problem = captions.caption_problem(caption, args.min_caption_words)
            for href in fig.graphics:
                image_file = jats.resolve_graphic(href, files.media.keys())
                _emit(
                    {
                        **meta,
                        "figure_id": fig.figure_id,
                        "label": fig.label,
                        "caption": caption,
                        "graphic": href,
                        "image_file": image_file,
                        "image_found": image_file is not None,
                        "licence": fig.licence or article.licence,
                        "caption_problem": problem,
                        "source": path,
                    }
                )
    return 1 if failed else 0


def cmd_classify(args) -> int:
    from roco import classify, onnx_model

    model = classify.load_model(Path(args.model) if args.model else None)
    cfg = classify.ClassifyConfig(args.radiology_threshold, args.compound_threshold)
    onnx = None
    if args.onnx:
        try:
            onnx = onnx_model.load_onnx(onnx_model.OnnxSpec(Path(args.onnx), mode=args.onnx_mode))
        except onnx_model.OnnxModelError as err:
            print(f"roco classify: {err}", file=sys.stderr)
            return 2
    failed = 0
    for image in args.images:
        try:
            data = Path(image).read_bytes()
            result = classify.classify_image(data, args.caption, model, cfg, onnx)
        except (OSError, ValueError) as err:
            _reject(image, "bad_image", str(err))
            failed += 1
            continue
        _emit(
            {
                "image": image,
                "radiology_score": round(result.radiology_score, 4),
                "compound_score": round(result.compound_score, 4),
                "radiology": result.radiology,
                "compound": result.compound,
                "modality": result.modality,
                "modality_cui": MODALITIES[result.modality].cui
                if result.modality in MODALITIES
                else None,
                "reason": result.reason,
            }
        )
    return 1 if failed else 0


def cmd_phash(args) -> int:
    from roco import phash

    failed = 0
    for image in args.images:
        try:
            _emit({"image": image, "phash": phash.phash_hex(Path(image).read_bytes(), args.exact)})
        except (OSError, ValueError) as err:
            _reject(image, "bad_image", str(err))
            failed += 1
    return 1 if failed else 0


def cmd_annotate(args) -> int:
    from roco import concepts

    annotator = concepts.Annotator(Path(args.index) if args.index else None)
    if args.text:
        for text, annotation in zip(args.text, annotator.annotate(args.text), strict=True):
            _emit({"caption": text, **concepts.annotation_record(annotation)})
        return 0
    if not args.csv:
        _reject("-", "usage", "give an ID,Caption CSV or --text")
        return 2
    source = sys.stdin if args.csv == "-" else Path(args.csv)
    concepts.annotate_csv(source, sys.stdout, annotator, as_json=args.json)
    return 0


def cmd_demo_corpus(args) -> int:
    from roco.demo import generate_demo_corpus

    _emit(generate_demo_corpus(Path(args.out), args.articles, args.seed))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="roco", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("extract", help="figures and captions of JATS articles")
    p.add_argument("paths", nargs="+", help=".xml/.nxml file, article folder, .tar.gz or .zip")
    p.add_argument("--min-caption-words", type=int, default=2)
    p.add_argument(
        "--allow-truncated",
        action="store_true",
        help="read what survives of a truncated package (its damage is reported on stderr)",
    )
    p.set_defaults(run=cmd_extract)

    p = sub.add_parser("classify", help="radiology / compound scores and modality of images")
    p.add_argument("images", nargs="+")
    p.add_argument("--caption", default="", help="caption text used as evidence")
    p.add_argument("--model", help="model file from the train_classifier rule (default: built in)")
    p.add_argument("--radiology-threshold", type=float, default=0.5)
    p.add_argument("--compound-threshold", type=float, default=0.5)
    p.add_argument(
        "--onnx",
        help="ONNX image classifier (N,3,H,W float input of fixed size, ImageNet mean/std, "
        "output column 1 = radiology logit)",
    )
    p.add_argument(
        "--onnx-mode",
        choices=("combine", "replace"),
        default="combine",
        help="average its log-odds with the built-in image model's, or use them instead",
    )
    p.set_defaults(run=cmd_classify)

    p = sub.add_parser("phash", help="perceptual hash (imagehash.phash hex) of images")
    p.add_argument("images", nargs="+")
    p.add_argument(
        "--exact",
        action="store_true",
        help="decode at full size: bit-identical to imagehash (default: as the workflow hashes)",
    )
    p.set_defaults(run=cmd_phash)

    p = sub.add_parser("annotate", help="UMLS concepts of captions: ID,Caption CSV -> ID,CUIs")
    p.add_argument("csv", nargs="?", help="CSV with columns ID,Caption ('-' for stdin)")
    p.add_argument("--text", nargs="+", help="annotate these captions (JSON lines)")
    p.add_argument("--json", action="store_true", help="JSON lines with names, spans, modality")
    p.add_argument("--index", help="knowledge-base index directory (default: built in)")
    p.set_defaults(run=cmd_annotate)

    p = sub.add_parser("demo-corpus", help="generate the PMC-shaped demo corpus")
    p.add_argument("out", help="output directory")
    p.add_argument("--articles", type=int, default=240)
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(run=cmd_demo_corpus)

    add_fetch_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


def console() -> int:
    """The `roco` command: like main, but `roco ... | head` ends quietly. Only here, never in
    main, because the SIGPIPE default would also kill any process that calls main in-process."""
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    return main()
