#!/bin/sh
# Resolution benchmark: 500 Dockerfiles, 200 distinct images, a token-auth registry
# behind a proxy adding LATENCY_MS (default 50) to every request; the release `pin`
# binary, dry run, default settings unless PIN_ARGS are given after `--`.
#
#   benches/resolve.sh [LATENCY_MS] [-- PIN_ARGS...]
#
# Prints wall time, requests per distinct reference by kind and peak memory.
# Goals: <= 2.05 requests (token + HEAD) per distinct reference, < 1.5 s at 50 ms,
# < 50 MB peak memory.
set -eu
cd "$(dirname "$0")/.."

if ! command -v docker-registry >/dev/null 2>&1; then
    echo "installing Debian's docker-registry (its service kept from starting)" >&2
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    apt-get install -y docker-registry >/dev/null
    rm -f /usr/sbin/policy-rc.d
fi
if ! command -v htpasswd >/dev/null 2>&1; then
    apt-get install -y apache2-utils >/dev/null
fi
if [ ! -x /usr/bin/time ]; then
    apt-get install -y time >/dev/null || echo "no /usr/bin/time: peak memory unknown" >&2
fi

cargo build --release --bin pin --example bench_resolve
exec target/release/examples/bench_resolve target/release/pin "$@"
