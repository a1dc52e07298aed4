"""Client-CPU benchmarks for ghmodels_async against other chat-completion clients.

Run ``python -m benchmarks.run`` from the repository root; see ``benchmarks/README.md``.
This package must stay import-light: every measurement runs in a fresh subprocess and
imports only what the client under test needs.
"""
