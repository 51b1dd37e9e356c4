from hatch_funasr.cli import main

raise SystemExit(main())
