# TLS contexts: for the server, an ssl.SSLContext from a certificate and its key, as
# app.run(ssl=...) takes it; for clients (kiln.client), one that verifies the server.
# MicroPython's ssl (Mbed TLS on the esp32 and unix ports, axtls on the ESP8266) loads DER only:
# PEM is turned into DER here.
import binascii
import ssl


def _der(data):
    if type(data) is str:
        with open(data, "rb") as f:
            data = f.read()
    start = data.find(b"-----BEGIN ")
    if start < 0:
        return data
    body = data[data.find(b"\n", start) + 1:data.find(b"-----END ", start)]
    return binascii.a2b_base64(body.replace(b"\r", b"").replace(b"\n", b""))


def server_context(cert, key):
    """An ``ssl.SSLContext`` for serving HTTPS: ``cert`` and ``key`` are file names or bytes,
    PEM or DER (``make cert`` writes a self-signed pair for development)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(_der(cert), _der(key))
    return ctx


def client_context(ca):
    """An ``ssl.SSLContext`` for connecting to a server (``kiln.client``'s ``ssl=``) that
    verifies it: its certificate must be signed by ``ca`` (a file name or bytes, PEM or DER: a
    CA certificate, or a self-signed server's own certificate) and name the host connected to."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cadata=_der(ca))
    return ctx
