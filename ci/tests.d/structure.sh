#!/usr/bin/env bash
# The core's shape, checked so that it stays that way:
#  - outside the platform directories (core/src/unix, core/src/win), core/src
#    includes only ISO C headers and its dependencies' (hiredis, cJSON;
#    OpenSSL in core/src/tls_openssl.c only, whose sockets are the
#    platform's through a BIO of its own): every OS call goes through
#    core/src/platform.h;
#  - the engine (core/src/lock.c) never calls into a lock kind;
#  - no source file of the core grows past 700 lines;
#  - no build-time "is the Redis lock there" switch anywhere.
set -uo pipefail
cd "$(dirname "$0")/../.."

fail=0
bad() { echo "structure: $*"; fail=1; }

iso_c='assert|complex|ctype|errno|fenv|float|inttypes|iso646|limits|locale|math|setjmp|signal|stdalign|stdarg|stdatomic|stdbool|stddef|stdint|stdio|stdlib|stdnoreturn|string|tgmath|time|uchar|wchar|wctype'
while IFS= read -r line; do
  bad "OS header outside the platform files: $line"
done < <(grep -Hn '^[[:space:]]*#[[:space:]]*include[[:space:]]*<' core/src/*.c core/src/*.h |
         grep -Ev "<($iso_c)\.h>|<hiredis/[a-z]+\.h>|<cjson/cJSON\.h>" |
         grep -Ev '^core/src/tls_openssl\.c:[0-9]+:#include <openssl/(err|ssl|x509v3)\.h>$')
# OpenSSL's sockets would bypass the seam: the TLS file does no I/O of its own.
if grep -n 'BIO_new_socket\|SSL_set_fd\|BIO_s_socket\|BIO_new_fd' core/src/tls_openssl.c; then
  bad "core/src/tls_openssl.c lets OpenSSL use the socket itself (use the platform BIO)"
fi

if grep -n 'pl__pidfile_\|pl__temporary_\|PL_KIND_' core/src/lock.c; then
  bad "core/src/lock.c (the engine) names a lock kind"
fi

while read -r n f; do
  [ "$f" = total ] && continue
  [ "$n" -gt 700 ] && bad "$f has $n lines (keep core files under ~700)"
done < <(wc -l core/src/*.[ch] core/src/*/*.[ch] 2>/dev/null)

if grep -rn 'PL_HAVE_REDIS\|HAVE_REDIS' --exclude-dir=.git --exclude-dir=build \
     --exclude=structure.sh . ; then
  bad "a Redis-or-not switch is back"
fi

[ $fail -eq 0 ] && echo "structure: platform seam, engine, file sizes: ok"
exit $fail
