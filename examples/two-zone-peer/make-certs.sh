#!/usr/bin/env bash
# Makes a private CA, the Playback node's sync certificate and the Record node's client certificate
# (mutual TLS) in ./certs. Replace the names with your hosts; any PKI works instead.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p certs && cd certs
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
openssl req -x509 "${ec[@]}" -days 365 -subj '/CN=QProxy CA' -keyout ca.key -out ca.pem
issue() { # name, cert file stem, extended key usage
  openssl req "${ec[@]}" -subj "/CN=$1" -keyout "$2.key" -out "$2.csr"
  openssl x509 -req -in "$2.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 -out "$2.pem" \
    -extfile <(printf 'subjectAltName=DNS:%s\nextendedKeyUsage=%s' "$1" "$3")
  rm "$2.csr"
}
issue qproxy-b.example.internal sync-b serverAuth
issue qproxy-a.example.internal record-a clientAuth
chmod 600 ./*.key
echo "made certs/: copy ca.pem, record-a.pem and record-a.key to zone A; ca.pem, sync-b.pem and sync-b.key to zone B"
