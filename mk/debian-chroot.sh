#!/bin/bash
# mk/debian-chroot.sh RELEASE DIR PYTHON COMMAND...
# Runs COMMAND in a copy of this tree inside a chroot of Debian RELEASE at
# DIR, with PYTHON (a Debian package's interpreter: python3, python3.15)
# and that release's own compiler, libxml2, expat, Prosody and ejabberd.
# The chroot is made once with debootstrap from the mirror this machine's
# apt names (mk/debian-mirror.sh) and kept: the next run only copies the
# tree in.  /proc, /sys, /dev and /dev/pts are mounted while COMMAND runs
# and unmounted after, whatever it exits with.
set -euo pipefail
release=$1 dir=$2 python=$3
shift 3
here=$(cd "$(dirname "$0")/.." && pwd)
# What a developer's machine of ours has: make, a C compiler, git.
base_packages=make,gcc,libc6-dev,git,ca-certificates,pkg-config

say() { echo "debian-chroot: $*"; }

# Files from the host that the chroot needs to reach the package
# registries as this machine does: its CA bundle, pip's configuration.
copy_host_config() {
    local root=$1 f
    for f in /etc/ssl/certs/ca-certificates.crt /etc/pip.conf \
             /etc/xdg/pip/pip.conf /etc/xdg/pip/constraints.txt \
             /etc/resolv.conf; do
        [ -e "$f" ] || continue
        mkdir -p "$root$(dirname "$f")"
        cp -L "$f" "$root$f"
    done
}

bootstrap() {
    local mirror tmp=$dir.tmp
    mirror=$("$here/mk/debian-mirror.sh")
    say "making a $release chroot in $dir from $mirror"
    rm -rf "$tmp"
    mkdir -p "$(dirname "$dir")"
    debootstrap --variant=minbase --include="$base_packages" \
        --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
        "$release" "$tmp" "$mirror"
    # Mirrors serve Release files past their Valid-Until date.
    echo 'Acquire::Check-Valid-Until "false";' \
        >"$tmp/etc/apt/apt.conf.d/99no-check-valid-until"
    # No package script starts a service (Prosody, ejabberd, epmd).
    printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
    chmod +x "$tmp/usr/sbin/policy-rc.d"
    echo "deb $mirror $release main" >"$tmp/etc/apt/sources.list"
    mv "$tmp" "$dir"
}

mounted=()
unmount_all() {
    local i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
        umount -l "${mounted[i]}" || say "could not unmount ${mounted[i]}"
    done
}
mount_into() {  # mount_into TARGET MOUNT-ARGS...
    local target=$dir$1
    shift
    mkdir -p "$target"
    mount "$@" "$target"
    mounted+=("$target")
}

in_chroot() {
    chroot "$dir" /usr/bin/env -i HOME=/root LANG=C.UTF-8 \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        DEBIAN_FRONTEND=noninteractive "$@"
}

[ -e "$dir/.bootstrapped" ] || { bootstrap && touch "$dir/.bootstrapped"; }
copy_host_config "$dir"

trap unmount_all EXIT
mount_into /proc -t proc proc
mount_into /sys -t sysfs sysfs
mount_into /dev --bind /dev
mount_into /dev/pts -t devpts devpts -o newinstance,ptmxmode=0666
mount_into /dev/shm -t tmpfs tmpfs

# The interpreter asked for, with venv and its headers, as Debian packages.
if ! in_chroot dpkg -s "$python-venv" "$python-dev" >/dev/null 2>&1; then
    in_chroot apt-get update -q
    in_chroot apt-get install -y -q "$python" "$python-venv" "$python-dev"
fi

# The tree, as git would clone it plus what is not committed yet, copied
# to /root/slixmpp-ping-c; what the chroot made there (its virtualenvs,
# build/: ignored by .gitignore, so neither copied nor deleted) is kept.
project=$dir/root/slixmpp-ping-c
mkdir -p "$project"
rsync -a --delete --exclude=/.git --filter=':- .gitignore' "$here/" "$project/"
say "running in $release ($(in_chroot "$python" --version)): $*"
in_chroot /bin/bash -c 'cd /root/slixmpp-ping-c && exec "$@"' - "$@"
