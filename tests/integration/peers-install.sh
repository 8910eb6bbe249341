#!/bin/sh
# Install the npm test peers (s3rver 3.7.1, @20minutes/s3rver 5.0.0, the JS
# Firehose and Kinesis SDKs, kinesalite 3.3.3, dynalite 4.0.0, aws-kinesis-agg, playwright-core to drive Debian's chromium) into .cache/peers at the repo root. Idempotent: when the
# stamp file matches the hash of package.json + package-lock.json + the node
# version, nothing is run. Needs node and npm (tests/deps.sh installs them).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
dest="$root/.cache/peers"
stamp="$dest/.stamp"

if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
apt_install() {
    echo "peers-install: installing Debian packages: $*" >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
# node and npm: Debian's nodejs + npm, unless a node that bundles npm (e.g.
# NodeSource's nodejs, which conflicts with Debian's npm) is there already.
if ! command -v node >/dev/null 2>&1; then apt_install nodejs npm; fi
if ! command -v npm >/dev/null 2>&1; then apt_install npm; fi
command -v node >/dev/null 2>&1 || { echo "peers-install: node not found" >&2; exit 1; }
command -v npm  >/dev/null 2>&1 || { echo "peers-install: npm not found" >&2; exit 1; }

# The tests use Debian's awscli v2 by absolute path, never the `aws` on PATH
# (which may be pip's awscli v1, with different blob semantics).
if [ ! -x /usr/bin/aws ]; then apt_install awscli; fi
case "$(/usr/bin/aws --version 2>&1)" in
    aws-cli/2.*) ;;
    *) echo "peers-install: /usr/bin/aws is not awscli v2: $(/usr/bin/aws --version 2>&1)" >&2; exit 1 ;;
esac

want=$( (cat "$here/package.json" "$here/package-lock.json"; node --version) | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
   [ -f "$dest/node_modules/s3rver/bin/s3rver.js" ] &&
   [ -f "$dest/node_modules/@20minutes/s3rver/lib/s3rver.js" ] &&
   [ -d "$dest/node_modules/@aws-sdk/client-firehose" ] &&
   [ -d "$dest/node_modules/@smithy/node-http-handler" ] &&
   [ -f "$dest/node_modules/playwright-core/package.json" ] &&
   [ -f "$dest/node_modules/kinesalite/cli.js" ] &&
   [ -f "$dest/node_modules/dynalite/cli.js" ] &&
   [ -d "$dest/node_modules/@aws-sdk/client-kinesis" ] &&
   [ -f "$dest/node_modules/aws-kinesis-agg/package.json" ]; then
    exit 0
fi

echo "peers-install: installing npm test peers into $dest"
mkdir -p "$dest"
rm -f "$stamp"
cp "$here/package.json" "$here/package-lock.json" "$dest/"
cd "$dest"
# @20minutes/s3rver declares node >= 24 but runs on node 20: the engine
# warning is harmless. Install scripts are not needed (pure JS peers).
i=0
until npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >npm-install.log 2>&1; do
    i=$((i + 1))
    if [ "$i" -ge 3 ]; then
        cat npm-install.log >&2
        echo "peers-install: npm ci failed" >&2
        exit 1
    fi
    echo "peers-install: npm ci failed, retrying ($i)" >&2
    sleep 3
done
node -e 'require("@aws-sdk/client-firehose"); require("@smithy/node-http-handler");
         require("@aws-sdk/client-kinesis"); require("aws-kinesis-agg")' ||
    { echo "peers-install: SDK does not load" >&2; exit 1; }
echo "$want" > "$stamp"
echo "peers-install: done"
