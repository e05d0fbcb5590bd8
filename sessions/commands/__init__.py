"""The ``attune`` commands, one module per command (``add_parser`` and ``run``)."""
