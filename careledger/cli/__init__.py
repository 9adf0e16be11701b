"""The ``careledger`` command. Faces stay thin: parse, call a domain client, render."""
