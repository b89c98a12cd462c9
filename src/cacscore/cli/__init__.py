"""Thin commands over the API. Each module here that defines ``add_arguments`` and ``run`` is a subcommand."""
