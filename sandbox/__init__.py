"""Local stand-ins for the college's external systems, each speaking its system's protocol.

Every stand-in is a small ASGI app (or, for SFTP, an sshd) listening on the 127.0.0.1 port that
catalog.yaml gives the system in its ``sandbox`` environment. All of them share ``standin.py``:
a recorder of what they received (for tests and the demo) and a fault switch that makes them
misbehave on request (slow, 500, 429, SOAP fault, reject one record).
"""
