#!/usr/bin/env bash
# Test certificates for TLS (docs/security.md, "TLS"): a CA, and one
# certificate per NAME signed by it, into DIR. For tests and local tries
# only: the keys are unencrypted, and nothing here may be committed.
#
#   bash scripts/test-ca.sh DIR [NAME[=SAN,SAN...]]...
#
# DIR/ca.crt, DIR/ca.key, and for each NAME DIR/NAME.crt and DIR/NAME.key.
# Each certificate's subjectAltName holds DNS:NAME, DNS:localhost and
# IP:127.0.0.1, plus each SAN given after '=' (an IPv4/IPv6 address becomes
# an IP: entry, anything else a DNS: entry), and may serve as a server's and
# as a client's (extendedKeyUsage serverAuth, clientAuth). Valid for 2 days,
# or TEST_CA_DAYS days. Default NAMEs: peer1 peer2 peer3 client.
set -euo pipefail

if [ $# -lt 1 ] || [ "$1" = "--help" ]; then
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
dir=$1
shift
[ $# -gt 0 ] || set -- peer1 peer2 peer3 client
mkdir -p "$dir"
umask 077
openssl=${OPENSSL:-openssl}
days=${TEST_CA_DAYS:-2}
if ! [[ $days =~ ^[1-9][0-9]*$ ]]; then
  echo "test-ca.sh: TEST_CA_DAYS must be a whole number of days >= 1, not '$days'" >&2
  exit 2
fi

"$openssl" req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$dir/ca.key" -out "$dir/ca.crt" -days "$days" -subj "/CN=paxos test CA $(date +%s%N)" \
  -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign' 2>/dev/null

for spec in "$@"; do
  name=${spec%%=*}
  sans="DNS:$name,DNS:localhost,IP:127.0.0.1"
  if [ "$spec" != "$name" ]; then
    IFS=',' read -r -a extra <<<"${spec#*=}"
    for s in "${extra[@]}"; do
      [ -n "$s" ] || continue
      if [[ $s =~ ^[0-9.]+$ || $s == *:* ]]; then sans="$sans,IP:$s"; else sans="$sans,DNS:$s"; fi
    done
  fi
  "$openssl" req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$dir/$name.key" -out "$dir/$name.csr" -subj "/CN=$name" 2>/dev/null
  printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n' \
    "$sans" >"$dir/$name.ext"
  "$openssl" x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
    -out "$dir/$name.crt" -days "$days" -extfile "$dir/$name.ext" 2>/dev/null
  rm -f "$dir/$name.csr" "$dir/$name.ext"
done
rm -f "$dir/ca.srl"
chmod 644 "$dir"/*.crt
