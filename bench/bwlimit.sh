#!/usr/bin/env bash
# --bwlimit holds the rate: a 200 MiB file copied over loopback at several limits, through a local
# fcpd (fcp --via-fcpd, as a copy over SSH runs) and through daemon access (fcp:// to a standing
# fcpd -d on 127.0.0.1). The rate is the bytes moved between the first and the last progress
# record of --json over the time between them, so fcpd's start-up and the login do not count.
# Prints each rate against its limit; the goal is a ratio within 0.90..1.10. A first run without
# a limit shows what this machine carries at all: a limit above that cannot be reached.
# Usage: bash bench/bwlimit.sh   (LIMITS="10M 25M 50M 100M", SIZE_MIB=200 override)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
LIMITS=${LIMITS:-10M 25M 50M 100M}
SIZE_MIB=${SIZE_MIB:-200}
WORK=$(mktemp -d /dev/shm/fcp-bwlimit-bench-XXXX)
FCP="$REPO/bin/fcp"
PORT=${PORT:-17623}
# The daemon's state apart from fcp's: a local copy's fcpd --serve would hand its session to a
# daemon it finds in its own state directory, and this one serves only its module.
FCPD="env XDG_STATE_HOME=$WORK/daemon-state node $REPO/bin/fcpd"
export XDG_STATE_HOME=$WORK/state XDG_CONFIG_HOME=$WORK/config

cleanup() {
  $FCPD --stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

[ -f "$REPO/dist/src/cli/fcp.js" ] || npm run -s build
mkdir -p "$WORK/module" "$WORK/out" "$XDG_CONFIG_HOME/fcp"
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom > "$WORK/big.bin"

# Daemon access: a token, its line in each secrets file, a module, the daemon.
USER_NAME=$(id -un)
$FCP --new-token > "$WORK/token.txt"
TOKEN=$(grep -o 'fcpt1_[A-Za-z0-9_-]*' "$WORK/token.txt")
KEY=$(grep -o 'fcpk1_[A-Za-z0-9_-]*' "$WORK/token.txt")
(umask 077 && echo "127.0.0.1 $USER_NAME $TOKEN" > "$XDG_CONFIG_HOME/fcp/secrets" && echo "$USER_NAME $KEY bench" > "$WORK/users")
printf 'users_file = "%s"\n[modules.bench]\npath = "%s"\n' "$WORK/users" "$WORK/module" > "$WORK/fcpd.toml"
$FCPD -d --port "$PORT" --bind 127.0.0.1 --config "$WORK/fcpd.toml" >/dev/null

# bytes/s between the first and the last progress record of a --json run on stdin.
rate_of() {
  node -e '
    const lines = require("fs").readFileSync(0, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    const error = lines.find((r) => r.event === "error");
    if (error) { console.error(`${error.code}: ${error.message}`); process.exit(1); }
    const progress = lines.filter((r) => r.event === "progress" && r.bytesDone > 0);
    const [first, last] = [progress[0], progress[progress.length - 1]];
    console.log(((last.bytesDone - first.bytesDone) / (last.elapsedSeconds - first.elapsedSeconds)).toFixed(0));
  '
}

bytes_of() {
  local n=${1%[KMG]} unit=${1: -1}
  case $unit in K) echo $((n * 1024)) ;; M) echo $((n * 1024 * 1024)) ;; G) echo $((n * 1024 * 1024 * 1024)) ;; *) echo $((n * 1024)) ;; esac
}

# One copy by `how` (via-fcpd or fcp://) with these extra options; prints its rate.
copy_rate() {
  local how=$1
  shift
  rm -rf "$WORK/out/big.bin" "$WORK/module/big.bin"
  if [ "$how" = via-fcpd ]; then
    $FCP --json --via-fcpd "$@" "$WORK/big.bin" "$WORK/out/big.bin" | rate_of
  else
    $FCP --json "$@" "$WORK/big.bin" "fcp://127.0.0.1:$PORT/bench/big.bin" | rate_of
  fi
}

printf '%-8s %-10s %12s %12s %7s\n' limit path 'MiB/s want' 'MiB/s got' ratio
for how in via-fcpd fcp://; do
  awk -v h="$how" -v g="$(copy_rate "$how")" 'BEGIN { printf "%-8s %-10s %12s %12.2f %7s\n", "none", h, "-", g / 1048576, "-" }'
done
for limit in $LIMITS; do
  want=$(bytes_of "$limit")
  for how in via-fcpd fcp://; do
    got=$(copy_rate "$how" --bwlimit "$limit")
    awk -v l="$limit" -v h="$how" -v w="$want" -v g="$got" 'BEGIN { printf "%-8s %-10s %12.2f %12.2f %7.3f\n", l, h, w / 1048576, g / 1048576, g / w }'
  done
done
