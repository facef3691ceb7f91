from roco.cli import main

raise SystemExit(main())
