"""`python -m cli`: the same as the `nanhu` command."""
from cli import main

main()
