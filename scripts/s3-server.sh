#!/usr/bin/env bash
# Starts a local S3 server for the s3crypt integration tests and benchmarks:
# versitygw v1.8.0 (installed with go install if missing) over TLS with a
# fresh self-signed certificate (SAN IP:127.0.0.1), on 127.0.0.1 only, with
# a posix backend in DIR. It creates no bucket; tests create their own.
#
# Usage: eval "$(bash scripts/s3-server.sh DIR)"
# Prints export lines on stdout and writes them to DIR/env as well:
#   PHICRYPT_S3_ENDPOINT    https://127.0.0.1:PORT
#   PHICRYPT_S3_CA          DIR/cert.pem, the certificate to trust
#   PHICRYPT_S3_ACCESS_KEY, PHICRYPT_S3_SECRET_KEY
#                           random credentials of this server alone
#   PHICRYPT_S3_PID         the server's process id (kill it when done)
# Logs go to DIR/versitygw.log.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
mkdir -p "$1"
dir=$(cd "$1" && pwd) # versitygw chdirs into its root: absolute paths only
export PATH="$(go env GOPATH)/bin:$PATH"
if ! command -v versitygw >/dev/null; then
	echo "installing versitygw v1.8.0 (about 2 minutes)" >&2
	go install github.com/versity/versitygw/cmd/versitygw@v1.8.0 >&2
fi

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=phicrypt-s3-test -addext subjectAltName=IP:127.0.0.1 \
	-keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
chmod 600 "$dir/key.pem"
mkdir -p "$dir/data"
access=AK$(openssl rand -hex 8)
secret=$(openssl rand -hex 20)

for _ in 1 2 3 4 5; do
	port=$((20000 + RANDOM % 40000))
	versitygw --port "127.0.0.1:$port" --cert "$dir/cert.pem" --key "$dir/key.pem" \
		--access "$access" --secret "$secret" --quiet posix "$dir/data" \
		>>"$dir/versitygw.log" 2>&1 </dev/null &
	pid=$!
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		if curl -s -o /dev/null --cacert "$dir/cert.pem" "https://127.0.0.1:$port/"; then
			cat >"$dir/env" <<-END
				export PHICRYPT_S3_ENDPOINT=https://127.0.0.1:$port
				export PHICRYPT_S3_CA=$dir/cert.pem
				export PHICRYPT_S3_ACCESS_KEY=$access
				export PHICRYPT_S3_SECRET_KEY=$secret
				export PHICRYPT_S3_PID=$pid
			END
			cat "$dir/env"
			exit 0
		fi
		sleep 0.1
	done
	kill "$pid" 2>/dev/null || true # port taken or slow start: try another
	wait "$pid" 2>/dev/null || true
done
echo "versitygw did not start; see $dir/versitygw.log" >&2
tail -5 "$dir/versitygw.log" >&2
exit 1
