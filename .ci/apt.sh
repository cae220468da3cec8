# Sourced by .ci/run and .ci/arm-check: root for package installs, and Debian packages
# installed with retries (a mirror caught mid-sync answers "File has unexpected size" for an
# index; a minute later it is whole again).

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo -n "$@"
  else
    echo "error: need root or passwordless sudo to run: $*" >&2
    return 1
  fi
}

# The packages of "$@" that are not installed, one per line.
apt_missing() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"
  done
}

# Installs the missing ones of "$@". APT_FORCE_UPDATE=1 updates the indexes even when nothing
# is missing (after dpkg --add-architecture). An index that failed to download does not stop
# the install by itself: the install fails if it needed that index, and is retried (4 tries,
# 30 s apart).
apt_ensure() {
  local missing
  mapfile -t missing < <(apt_missing "$@")
  [ "${#missing[@]}" -gt 0 ] || [ "${APT_FORCE_UPDATE:-0}" = 1 ] || return 0
  command -v apt-get >/dev/null 2>&1 || { echo "error: not a Debian system and missing: ${missing[*]}" >&2; return 1; }
  echo "installing: ${missing[*]:-(indexes only)}"
  local try
  for try in 1 2 3 4; do
    as_root apt-get update -qq || echo "apt: apt-get update reported errors (try $try)" >&2
    [ "${#missing[@]}" -gt 0 ] || return 0
    as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null && return 0
    [ "$try" -lt 4 ] || break
    echo "apt: install failed (try $try; a mirror mid-sync?); again in 30 s" >&2
    sleep 30
  done
  echo "error: could not install: ${missing[*]}" >&2
  return 1
}
