# Helpers for scripts/setup.sh and scripts/setup-tests.sh (sourced, not run).

# apt_install PACKAGE...: install those not installed yet (as root, or with sudo); nothing to do costs one dpkg-query.
apt_install() {
  local missing=() p
  for p in "$@"; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "== installing system packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# stamp_of FILE... -- WORD...: one hash of these files' contents and these words (versions, options).
stamp_of() {
  local files=() words=()
  while (($#)) && [ "$1" != "--" ]; do files+=("$1"); shift; done
  (($#)) && shift
  words=("$@")
  { cat "${files[@]}"; printf '%s\n' "${words[@]}"; } | sha256sum | cut -c1-32
}

STAMPS=.venv/.stamps

# stamp_matches NAME HASH: whether the part NAME was last installed from these inputs (and completed).
stamp_matches() {
  [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]
}

# stamp_write NAME HASH: written only after the part succeeded (set -e stops before on a failure).
stamp_write() {
  mkdir -p "$STAMPS"
  printf '%s\n' "$2" >"$STAMPS/$1"
}
