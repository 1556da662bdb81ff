#!/bin/sh
# The project's own SoftHSM2 set-up: a configuration and token directory under var/softhsm/.
# Idempotent; touches no global configuration (/etc/softhsm stays as it is).
# Usage: scripts/softhsm.sh [VAR_DIR]   then   export SOFTHSM2_CONF=<printed path>
# precheck itself uses var/softhsm/softhsm2.conf when SOFTHSM2_CONF is unset.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
var_dir=${1:-"$root/var"}
dir="$var_dir/softhsm"
conf="$dir/softhsm2.conf"
module=${PRECHECK_PKCS11_MODULE:-/usr/lib/softhsm/libsofthsm2.so}

if [ ! -f "$module" ]; then
    echo "softhsm.sh: PKCS#11 module $module not found — apt-get install softhsm2" >&2
    exit 1
fi

mkdir -p "$dir/tokens"
chmod 700 "$dir/tokens"
tokens=$(cd "$dir/tokens" && pwd)
if [ ! -f "$conf" ]; then
    umask 077
    cat > "$conf" <<CONF
directories.tokendir = $tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
fi
echo "$(cd "$dir" && pwd)/softhsm2.conf"
