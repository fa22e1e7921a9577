"""What Koppel's server does with a call before anything is stored.

- ``body``: the body read while streaming, refused past the size limit before it is buffered;
  JSON parsed with a depth limit, duplicate keys and non-JSON numbers refused.
- ``problem``: refusals as RFC 9457 problem details (``application/problem+json``), or as SCIM
  errors (RFC 7644 §3.12) on the SCIM routes.
- ``replay``: the ids of accepted calls, so a repeated call is answered 2xx and stored once.
- ``scim_*``: SCIM 2.0 (RFC 7643/7644): schemas, filters, PATCH, the directory read from the SIS,
  and the routes.

Order, for every call: credentials that live in headers (a bearer token, a signature header that
must be there) before a byte of the body is read; the content type; the body, read up to the
limit; the signature over the bytes; only then the parse. Signhost's checksum is the exception
the vendor imposes: it covers fields of the parsed body, so that body is parsed (within the size
and depth limits) before it is checked.
"""
