"""The only modules that do I/O: PostgreSQL, OpenBao, Kubernetes."""
