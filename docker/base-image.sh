#!/usr/bin/env bash
# Build a minimal Debian 12 (bookworm) base image without any image registry.
#
# No registry is reachable from this machine, so `docker pull debian` fails.
# Instead we bootstrap a root filesystem with debootstrap from the same
# Debian mirror the host's apt already uses, and `docker import` it.
#
# Usage (as root):   docker/base-image.sh [TAG]      (default logmux/debian:bookworm)
#
# Idempotent: if TAG already exists, nothing is done.
# MIRROR=http://... overrides the mirror found in the host's apt sources;
# UPDATES_MIRROR and SECURITY_MIRROR those of bookworm-updates and
# bookworm-security, which the image's apt sources list beside bookworm
# when the host's do (so that the image build gets Debian's fixes).
set -euo pipefail

TAG=${1:-logmux/debian:bookworm}
SUITE=bookworm

log() { printf '== %s\n' "$*" >&2; }

if docker image inspect "$TAG" >/dev/null 2>&1; then
    log "image $TAG already exists"
    exit 0
fi

# --------------------------------------------------------------------------
# debootstrap
# --------------------------------------------------------------------------
if ! command -v debootstrap >/dev/null 2>&1 && [ ! -x /usr/sbin/debootstrap ]; then
    log "installing debootstrap"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap
fi
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH

# --------------------------------------------------------------------------
# find_mirror SUITE: the Debian mirror apt uses for SUITE, the first enabled
# `deb` entry whose suites include exactly SUITE (so for bookworm,
# bookworm-security and third-party repositories such as nodesource are
# skipped).  Both formats are read:
#   one-line  *.list     deb [opts] URI SUITE COMPONENT...
#   deb822    *.sources  Types: / URIs: / Suites: / Enabled: stanzas
# --------------------------------------------------------------------------
find_mirror() {
    local f suite=$1
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk -v suite="$suite" '
            { sub(/#.*/, "") }
            $1 != "deb" { next }
            {
                i = 2
                if ($i ~ /^\[/) {               # skip [opt=val ...]
                    while (i <= NF && $i !~ /\]$/) i++
                    i++
                }
                if ($(i + 1) == suite) { print $i; exit }
            }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v suite="$suite" '
            function flush() {
                if (types ~ /(^| )deb( |$)/ && enabled != "no" &&
                    (" " suites " ") ~ (" " suite " ") && uris != "") {
                    split(uris, u, " "); print u[1]; found = 1
                }
                types = uris = suites = enabled = ""
            }
            /^[ \t]*#/ { next }
            /^[ \t]*$/ { flush(); if (found) exit; next }
            {
                key = tolower($1); sub(/:$/, "", key)
                val = $0; sub(/^[^:]*:[ \t]*/, "", val)
                if (key == "types")   types = val
                if (key == "uris")    uris = val
                if (key == "suites")  suites = val
                if (key == "enabled") enabled = tolower(val)
            }
            END { if (!found) flush() }' "$f"
    done
}

MIRROR=${MIRROR:-$(find_mirror "$SUITE" | head -n 1)}
if [ -z "$MIRROR" ]; then
    log "no 'deb ... $SUITE' entry found in /etc/apt/sources.list{,.d/*}; set MIRROR="
    exit 1
fi
MIRROR=${MIRROR%/}
log "mirror: $MIRROR"
UPDATES_MIRROR=${UPDATES_MIRROR:-$(find_mirror "$SUITE-updates" | head -n 1)}
SECURITY_MIRROR=${SECURITY_MIRROR:-$(find_mirror "$SUITE-security" | head -n 1)}
log "$SUITE-updates: ${UPDATES_MIRROR:-none listed by the host}; $SUITE-security: ${SECURITY_MIRROR:-none listed by the host}"

# --------------------------------------------------------------------------
# bootstrap, import, clean up
# --------------------------------------------------------------------------
ROOTFS=$(mktemp -d /tmp/logmux-rootfs.XXXXXX)
cleanup() { rm -rf --one-file-system "$ROOTFS"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

log "debootstrap --variant=minbase $SUITE $ROOTFS $MIRROR"
debootstrap --variant=minbase "$SUITE" "$ROOTFS" "$MIRROR" >&2

# The image's apt sources: debootstrap wrote bookworm alone.
{
    printf 'deb %s %s main\n' "$MIRROR" "$SUITE"
    [ -z "$UPDATES_MIRROR" ] || printf 'deb %s %s-updates main\n' "${UPDATES_MIRROR%/}" "$SUITE"
    [ -z "$SECURITY_MIRROR" ] || printf 'deb %s %s-security main\n' "${SECURITY_MIRROR%/}" "$SUITE"
} >"$ROOTFS/etc/apt/sources.list"
sed 's/^/   /' "$ROOTFS/etc/apt/sources.list" >&2

# Package caches and lists are not needed in the image (apt-get update
# rebuilds the lists).
rm -rf "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/cache/apt/archives/*.deb \
       "$ROOTFS"/var/lib/apt/lists/*

log "docker import -> $TAG"
tar --numeric-owner -C "$ROOTFS" -c . |
    docker import --change 'CMD ["/bin/bash"]' \
                  --message "debootstrap --variant=minbase $SUITE $MIRROR" \
                  - "$TAG" >/dev/null

docker image ls --format '{{.Repository}}:{{.Tag}}  {{.ID}}  {{.Size}}' "$TAG"
