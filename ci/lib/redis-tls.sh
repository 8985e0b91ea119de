# A throwaway redis-server speaking TLS, for the TLS suite and bench
# (sourced, not run).
#
#   redis_tls_start TAG   makes certificates with openssl in its own temp
#                         dir and starts redis-server on 127.0.0.1 with a
#                         TLS port (client certificates required:
#                         tls-auth-clients yes) and a plain port (for the
#                         tests' own inspection). Exports
#                           PL_TEST_REDIS_TLS_PORT  the TLS port
#                           PL_TEST_REDIS_PORT      the plain port
#                           PL_TEST_TLS_DIR         ca.crt, client.crt,
#                             client.key, other-ca.crt (a CA that signed
#                             nothing of this server's), server.crt
#   redis_tls_stop        stops it and removes its dir (callers trap EXIT).
#
# The server certificate names localhost and 127.0.0.1 (ECDSA P-256: the
# handshake is cheap enough that a bench measures the lock, not RSA).
# A missing redis-server or openssl is a failure: start returns 1.

# shellcheck source=redis-server.sh
. "$(dirname "${BASH_SOURCE[0]}")/redis-server.sh"

REDIS_TLS_PID=""
REDIS_TLS_DIR=""

redis_tls_certs() { # dir
  local d=$1
  (
    set -e
    cd "$d"
    ec() { openssl ecparam -name prime256v1 -genkey -noout -out "$1" 2>/dev/null; }
    ec ca.key
    openssl req -x509 -new -key ca.key -days 2 -subj "/CN=portalocker test CA" -out ca.crt
    ec other-ca.key
    openssl req -x509 -new -key other-ca.key -days 2 -subj "/CN=another CA" -out other-ca.crt
    ec server.key
    openssl req -new -key server.key -subj "/CN=localhost" -out server.csr
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
      -days 2 -extfile server.ext -out server.crt 2>/dev/null
    ec client.key
    openssl req -new -key client.key -subj "/CN=portalocker test client" -out client.csr
    printf 'extendedKeyUsage=clientAuth\n' > client.ext
    openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
      -days 2 -extfile client.ext -out client.crt 2>/dev/null
    chmod 600 ./*.key
  )
}

redis_tls_start() {
  local tag=${1:-tls} try port tport
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null &&
    command -v openssl >/dev/null || {
    echo "redis-server/redis-cli/openssl not installed (run ci/setup.sh)"; return 1; }
  REDIS_TLS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/pl-$tag-redis-tls.XXXXXX")
  redis_tls_certs "$REDIS_TLS_DIR" || { echo "could not make the test certificates"; return 1; }
  redis_tls_ready() {
    redis-cli -p "$port" ping 2>/dev/null | grep -q PONG &&
      redis-cli -p "$tport" --tls --cacert "$REDIS_TLS_DIR/ca.crt" \
        --cert "$REDIS_TLS_DIR/client.crt" --key "$REDIS_TLS_DIR/client.key" \
        ping 2>/dev/null | grep -q PONG
  }
  for try in 1 2 3 4 5; do
    read -r port tport < <(pl_free_ports 2)
    if pl_redis_launch redis_tls_ready --port "$port" --tls-port "$tport" --bind 127.0.0.1 \
        --save '' --appendonly no --dir "$REDIS_TLS_DIR" --logfile "$REDIS_TLS_DIR/redis.log" \
        --tls-cert-file "$REDIS_TLS_DIR/server.crt" --tls-key-file "$REDIS_TLS_DIR/server.key" \
        --tls-ca-cert-file "$REDIS_TLS_DIR/ca.crt" --tls-auth-clients yes; then
      REDIS_TLS_PID=$PL_LAUNCHED_PID
      export PL_TEST_REDIS_PORT=$port PL_TEST_REDIS_TLS_PORT=$tport
      export PL_TEST_TLS_DIR=$REDIS_TLS_DIR
      return 0
    fi
  done
  echo "could not start redis-server with TLS"; cat "$REDIS_TLS_DIR/redis.log" 2>/dev/null
  return 1
}

redis_tls_stop() {
  if [ -n "$REDIS_TLS_PID" ]; then
    kill "$REDIS_TLS_PID" 2>/dev/null
    wait "$REDIS_TLS_PID" 2>/dev/null
    REDIS_TLS_PID=""
  fi
  if [ -n "$REDIS_TLS_DIR" ]; then
    rm -rf "$REDIS_TLS_DIR"
    REDIS_TLS_DIR=""
  fi
}
