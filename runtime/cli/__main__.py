"""``python -m runtime.cli``: the same as the ``koppel`` command."""

from runtime.cli import main

if __name__ == "__main__":
    main(prog_name="koppel")
