from roco.cli import console

raise SystemExit(console())
