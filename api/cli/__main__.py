"""`python -m api.cli`: the same as the `spoa` command."""

from api.cli.main import main

main()
