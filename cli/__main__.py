"""`python -m cli`: the same as the `xunlu` console script."""
from cli.app import main

main()
