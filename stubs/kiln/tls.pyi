import ssl

def server_context(cert: str | bytes, key: str | bytes) -> ssl.SSLContext:
    """An `ssl.SSLContext` for serving HTTPS from a certificate and its key (PEM or DER)."""

def client_context(ca: str | bytes) -> ssl.SSLContext:
    """An `ssl.SSLContext` that verifies a server against `ca` (PEM or DER) and its host name."""
