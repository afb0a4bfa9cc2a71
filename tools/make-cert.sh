#!/usr/bin/env bash
# A self-signed certificate for serving HTTPS in development (make cert): an EC P-256 key (a
# TLS handshake with it costs a board far less than with RSA) and a certificate for localhost,
# 127.0.0.1 and the names given (a board's host name or address), valid for a year.
# Usage: make-cert.sh <dir> [name-or-address...]
# Writes <dir>/cert.pem and <dir>/key.pem (kiln.tls.server_context takes them as they are; DER
# copies beside them for other tools). Clients trust it with, e.g., curl --cacert <dir>/cert.pem.
set -euo pipefail
dir=$1
shift
san="DNS:localhost,IP:127.0.0.1"
for name in "$@"; do
    if [[ $name =~ ^[0-9.]+$ || $name == *:* ]]; then san="$san,IP:$name"; else san="$san,DNS:$name"; fi
done
mkdir -p "$dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 -subj "/CN=${1:-localhost}" \
    -addext "subjectAltName=$san" -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
openssl x509 -in "$dir/cert.pem" -outform DER -out "$dir/cert.der"
openssl pkey -in "$dir/key.pem" -outform DER -out "$dir/key.der"
chmod 600 "$dir/key.pem" "$dir/key.der"
echo "make-cert: $dir/cert.pem and $dir/key.pem for $san"
