"""python -m onyx.cli"""

from onyx.cli import main

main(prog_name="onyx")
