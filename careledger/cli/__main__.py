"""``python -m careledger.cli``: the same as the ``careledger`` command."""

from careledger.cli.main import main

main()
