from cleanup_trace.cli import main

raise SystemExit(main())
