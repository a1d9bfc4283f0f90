#!/bin/sh
# jimini installer: downloads the release's SHA256SUMS and checks its minisign signature with
# the release key embedded below, then downloads the archive for this platform, verifies its
# checksum, and only then unpacks it and installs the binaries.
#
#   curl --proto '=https' -fsSLO https://github.com/jimini-dev/jimini/releases/download/vX.Y.Z/install.sh
#   sh install.sh [--version X.Y.Z] [--to DIR] [--require-signature]
#
# Environment:
#   JIMINI_INSTALL_BASE_URL  where the release files live (default: the GitHub release of the
#                            version, HTTPS only); file:// and explicit http:// URLs work, for
#                            mirrors and offline installs
#   JIMINI_INSTALL_TARGET    force a target triple instead of detecting it
set -eu

# `cargo xtask dist` writes the released version here when it ships this script.
default_version="__JIMINI_VERSION__"
repository="https://github.com/jimini-dev/jimini"
# `cargo xtask dist` writes how the release names its archives here (and their top directory):
# @VERSION@ and @TARGET@ stand for the version and the target.
stem_pattern="__JIMINI_ARCHIVE_STEM__"
# `cargo xtask dist` writes the release keys its key history (keys/history/) trusts here, one
# per line: <minisign public key (base64)> <key id>; the current key first.
public_keys="__JIMINI_PUBLIC_KEYS__"
# ... and the keys it revoked: <public key> <key id> <history entry> <date> <reason>.
revoked_keys="__JIMINI_REVOKED_KEYS__"

usage() {
    cat <<USAGE
Usage: install.sh [--version X.Y.Z] [--to DIR] [--require-signature] [--help]

Installs jimini, jimini-admin and jimini-server for this platform (the release's Linux
builds) after checking the signature of the release's SHA256SUMS (with minisign, when it is
installed) and the archive against SHA256SUMS.

  --version X.Y.Z      release to install (default: ${default_version})
  --to DIR             where to put the binaries (default: \$HOME/.local/bin)
  --require-signature  install nothing unless SHA256SUMS.minisig verifies (needs minisign)
  --help               show this help
USAGE
}

die() {
    echo "install.sh: $*" >&2
    echo "install.sh: nothing was installed" >&2
    exit 1
}

warn() {
    echo "install.sh: warning: $*" >&2
}

version=$default_version
to=${HOME:-}/.local/bin
require_signature=0
while [ $# -gt 0 ]; do
    case $1 in
        --version) [ $# -ge 2 ] || die "--version needs a value"; version=${2#v}; shift 2 ;;
        --version=*) version=${1#--version=}; version=${version#v}; shift ;;
        --to) [ $# -ge 2 ] || die "--to needs a directory"; to=$2; shift 2 ;;
        --to=*) to=${1#--to=}; shift ;;
        --require-signature) require_signature=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
case $version in
    "" | __*__) die "no version given: pass --version X.Y.Z" ;;
    *[!0-9A-Za-z.+-]*) die "--version $version is not a version: pass --version X.Y.Z" ;;
esac

# `cargo xtask dist` fills in the release's platforms from xtask/src/targets.rs, one line each:
# <uname -s> <uname -m> <libc> <target triple> <archive extension> <newest glibc it needs, or ->.
platforms="__JIMINI_PLATFORMS__"
case $platforms in
    __*__) die "this is the install script's template: use the install.sh of a release" ;;
esac

# platform FIELD KEY VALUE...: the FIELD of the first table line whose first fields are the values.
platform_field() {
    printf '%s\n' "$platforms" | awk -v field="$1" -v os="$2" -v machine="$3" -v libc="$4" \
        '$1 == os && $2 == machine && $3 == libc { print $field; exit }'
}

# The machine's glibc version (e.g. 2.31), or nothing when it cannot be told.
machine_glibc() {
    found=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{ print $2 }')
    [ -n "$found" ] || found=$(ldd --version 2>&1 | awk 'NR == 1 { print $NF }')
    case $found in
        [0-9]*.[0-9]*) echo "$found" ;;
    esac
}

# at_least HAVE NEED: whether version HAVE >= NEED, number by number.
at_least() {
    awk -v have="$1" -v need="$2" 'BEGIN {
        n = split(have, h, "."); m = split(need, w, ".")
        for (i = 1; i <= (n > m ? n : m); i++) {
            if (h[i] + 0 > w[i] + 0) exit 0
            if (h[i] + 0 < w[i] + 0) exit 1
        }
        exit 0
    }'
}

detect_target() {
    if [ -n "${JIMINI_INSTALL_TARGET:-}" ]; then
        echo "$JIMINI_INSTALL_TARGET"
        return
    fi
    os=$(uname -s)
    machine=$(uname -m)
    libc=gnu
    if [ "$os" = Darwin ]; then
        libc=system
    elif ls /lib/ld-musl-* >/dev/null 2>&1 || { command -v ldd >/dev/null 2>&1 && ldd --version 2>&1 | grep -qi musl; }; then
        libc=musl
    fi
    found=$(platform_field 4 "$os" "$machine" "$libc")
    [ -n "$found" ] || die "unsupported platform: no $os $machine ($libc) build in this release; the archives are at $repository/releases"
    floor=$(platform_field 6 "$os" "$machine" "$libc")
    if [ "$libc" = system ] && [ -n "$floor" ] && [ "$floor" != - ]; then
        have=$(sw_vers -productVersion 2>/dev/null || true)
        if [ -z "$have" ] || ! at_least "$have" "$floor"; then
            die "this Mac runs macOS ${have:-of unknown version}, older than $floor, which the $found build needs"
        fi
    fi
    if [ "$libc" = gnu ] && [ -n "$floor" ] && [ "$floor" != - ]; then
        have=$(machine_glibc)
        if [ -z "$have" ] || ! at_least "$have" "$floor"; then
            musl=$(platform_field 4 "$os" "$machine" musl)
            [ -n "$musl" ] || die "this machine's glibc (${have:-unknown}) is older than $floor, which the $found build needs, and this release has no musl build for $os $machine"
            echo "install.sh: this machine's glibc (${have:-unknown}) is older than $floor, which the $found build needs: installing the static musl build $musl instead" >&2
            found=$musl
        fi
    fi
    echo "$found"
}

# download URL FILE: never into a pipe, always into a file that is checked before use. HTTPS
# only, redirects included, unless the URL itself is an explicit http:// or file:// mirror.
download() {
    case $1 in
        file://*) cp "${1#file://}" "$2" 2>/dev/null ;;
        https://*)
            if command -v curl >/dev/null 2>&1; then
                curl --proto '=https' --proto-redir '=https' --tlsv1.2 -fsSL -o "$2" "$1"
            elif command -v wget >/dev/null 2>&1; then
                wget --https-only -q -O "$2" "$1"
            else
                die "neither curl nor wget is installed"
            fi
            ;;
        http://*)
            if command -v curl >/dev/null 2>&1; then
                curl --proto '=http' --proto-redir '=http' -fsSL -o "$2" "$1"
            elif command -v wget >/dev/null 2>&1; then
                wget -q -O "$2" "$1"
            else
                die "neither curl nor wget is installed"
            fi
            ;;
        *) die "unsupported URL $1: use https://, or an http:// or file:// mirror" ;;
    esac
}

fetch() {
    download "$1" "$2" || die "download failed: $1"
}

# Checks SHA256SUMS.minisig with the embedded keys before any checksum is trusted.
verify_signature() {
    case $public_keys in
        "" | __*__) unsigned_project=1 ;;
        *) unsigned_project=0 ;;
    esac
    if [ "$unsigned_project" = 1 ]; then
        [ "$require_signature" = 0 ] || die "--require-signature, but this installer carries no public key: the project does not sign its releases"
        warn "this project publishes no signing key: only the checksums are checked"
        return 0
    fi
    if ! download "$base/SHA256SUMS.minisig" "$work/SHA256SUMS.minisig"; then
        [ "$require_signature" = 0 ] || die "SHA256SUMS.minisig is missing: the release is not signed (or it was removed)"
        warn "SHA256SUMS.minisig is missing: the checksums are not signature-checked (pass --require-signature to insist)"
        return 0
    fi
    if ! command -v minisign >/dev/null 2>&1; then
        [ "$require_signature" = 0 ] || die "minisign is not installed, so the signature cannot be checked: install it (e.g. apt-get install minisign)"
        warn "minisign is not installed: the signature was not checked (install minisign, or pass --require-signature to insist)"
        return 0
    fi
    # A key the history revoked is named, whatever the signature says.
    revoked=$(printf '%s\n' "$revoked_keys" | while read -r key id entry date reason; do
        [ -n "$key" ] || continue
        if minisign -V -q -m "$work/SHA256SUMS" -x "$work/SHA256SUMS.minisig" -P "$key" >/dev/null 2>&1; then
            echo "$id, which the key history revoked ($entry, $date: $reason)"
            break
        fi
    done)
    [ -z "$revoked" ] || die "SHA256SUMS.minisig is signed by key $revoked: this release is not trusted"
    trusted=$(printf '%s\n' "$public_keys" | while read -r key id; do
        [ -n "$key" ] || continue
        if minisign -V -q -m "$work/SHA256SUMS" -x "$work/SHA256SUMS.minisig" -P "$key" >/dev/null 2>&1; then
            echo "$id"
            break
        fi
    done)
    ids=$(printf '%s\n' "$public_keys" | awk 'NF { printf "%s%s", sep, $2; sep = ", " }')
    [ -n "$trusted" ] || die "SHA256SUMS.minisig does not verify with any release key this installer trusts ($ids): the release files were altered or signed by someone else"
    echo "install.sh: the signature of SHA256SUMS is good (release key $trusted)" >&2
}

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d ' ' -f 1
    elif command -v shasum >/dev/null 2>&1; then
        shasum -a 256 "$1" | cut -d ' ' -f 1
    else
        die "neither sha256sum nor shasum is installed, so the download cannot be verified"
    fi
}

target=$(detect_target) || exit 1
base=${JIMINI_INSTALL_BASE_URL:-$repository/releases/download/v$version}
base=${base%/}
extension=$(printf '%s\n' "$platforms" | awk -v t="$target" '$4 == t { print $5; exit }')
[ -n "$extension" ] || die "release $version has no archive for $target"
work=$(mktemp -d "${TMPDIR:-/tmp}/jimini-install.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

case $base in
    http://*) warn "$base is plain http: only the signature protects this download" ;;
esac
fetch "$base/SHA256SUMS" "$work/SHA256SUMS"
verify_signature
listed() {
    awk -v f="$1" '$2 == f { found = 1 } END { exit !found }' "$work/SHA256SUMS"
}
stem=$(printf '%s\n' "$stem_pattern" | sed -e "s/@VERSION@/$version/" -e "s/@TARGET@/$target/")
# Releases up to 0.2 named their archives jimini-<version>-<target>.
if ! listed "$stem.$extension" && listed "jimini-$version-$target.$extension"; then
    stem="jimini-$version-$target"
fi
archive="$stem.$extension"
# Without xz (minimal and -slim images), the release's .tar.gz of the same files.
if [ "$extension" = tar.xz ] && ! command -v xz >/dev/null 2>&1; then
    fallback="$stem.tar.gz"
    if listed "$fallback"; then
        echo "install.sh: xz is not installed: taking $fallback (the same files, a larger download)" >&2
        archive=$fallback
        extension=tar.gz
    else
        die "$archive needs xz to unpack and the release has no .tar.gz: install xz (e.g. apt-get install xz-utils)"
    fi
fi
expected=$(awk -v f="$archive" '$2 == f { print $1 }' "$work/SHA256SUMS")
[ -n "$expected" ] || die "release $version has no archive for $target ($archive is not in SHA256SUMS)"
fetch "$base/$archive" "$work/$archive"
actual=$(sha256_of "$work/$archive")
[ "$actual" = "$expected" ] || die "checksum mismatch for $archive: expected $expected, got $actual"

mkdir "$work/unpacked"
case $extension in
    tar.gz) tar -xzf "$work/$archive" -C "$work/unpacked" || die "cannot unpack $archive" ;;
    tar.xz) xz -dc "$work/$archive" | tar -xf - -C "$work/unpacked" || die "cannot unpack $archive" ;;
    *) die "$archive: install.sh cannot unpack .$extension archives" ;;
esac
top="$work/unpacked/$stem"
[ -d "$top" ] || die "$archive does not hold $stem/"

mkdir -p "$to" || die "cannot create $to"
# All or nothing: stage every binary beside its destination first, then swap them in, keeping
# what was there; if the new jimini does not run, put the old files back.
binaries=""
for binary in jimini jimini-admin jimini-server; do
    [ -f "$top/$binary" ] && binaries="$binaries $binary"
done
[ -n "$binaries" ] || die "$archive holds no jimini binary"
discard_staged() {
    for binary in $binaries; do rm -f "$to/.$binary.new.$$"; done
}
for binary in $binaries; do
    if ! cp "$top/$binary" "$to/.$binary.new.$$" || ! chmod 0755 "$to/.$binary.new.$$"; then
        discard_staged
        die "cannot write into $to"
    fi
done
for binary in $binaries; do
    if [ -e "$to/$binary" ]; then
        mv -f "$to/$binary" "$to/.$binary.old.$$"
    fi
    mv -f "$to/.$binary.new.$$" "$to/$binary"
done
roll_back() {
    for binary in $binaries; do
        if [ -e "$to/.$binary.old.$$" ]; then
            mv -f "$to/.$binary.old.$$" "$to/$binary"
        else
            rm -f "$to/$binary"
        fi
    done
}
if ! "$to/jimini" --version >/dev/null 2>&1; then
    roll_back
    echo "install.sh: the new $to/jimini does not run here (\`jimini --version\` failed): put back what was there before" >&2
    die "jimini $version ($target) cannot run on this machine"
fi
for binary in $binaries; do rm -f "$to/.$binary.old.$$"; done
echo "installed jimini $version ($target) into $to:$binaries"
