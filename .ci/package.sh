#!/usr/bin/env bash
# The Debian package: built with cargo-deb from the binary the tests built,
# installed with dpkg into a clean minimal Debian (debootstrap), where
# `meshdesk` must be on PATH, the menu entry must validate, and an upgrade
# must keep the team a user made before it.
#
# The package CI installs holds the debug binary (stripped) so CI builds
# nothing twice; a release package is `cargo deb -p meshdesk`, the same
# recipe (app/Cargo.toml, [package.metadata.deb]).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v desktop-file-validate >/dev/null || need+=(desktop-file-utils)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v dpkg-shlibdeps >/dev/null || need+=(dpkg-dev)
if ((${#need[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [[ "$(cargo deb --version 2>/dev/null)" != "cargo-deb 3.8.0" ]]; then
  cargo install cargo-deb --locked --version 3.8.0 --quiet
fi

cargo build -p meshdesk --quiet
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
version="$(cargo pkgid -p meshdesk | sed 's/.*[#@]//')"
for revision in 1 2; do
  cargo deb -p meshdesk --profile dev --no-build --fast --deb-revision "$revision" \
    -o "$work/meshdesk_${version}-${revision}.deb" >/dev/null 2>&1
done

# A clean Debian to install into, made once per machine and kept.
cache="${MESHDESK_DEBIAN_CACHE:-/var/cache/meshdesk-ci}"
base="$cache/bookworm-minbase.tar"
if [[ ! -s "$base" ]]; then
  mkdir -p "$cache"
  debootstrap --variant=minbase bookworm "$work/bootstrap" http://deb.debian.org/debian >/dev/null
  tar -C "$work/bootstrap" -cf "$base.part" . && mv "$base.part" "$base"
  rm -rf "$work/bootstrap"
fi
root="$work/root"
mkdir -p "$root"
tar -C "$root" -xf "$base"
cp "$work"/*.deb "$root/tmp/"
in_root() { chroot "$root" env HOME=/home/agent PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"; }

fail() { echo "package: $*" >&2; exit 1; }
in_root dpkg -i "/tmp/meshdesk_${version}-1.deb" >/dev/null
[[ "$(in_root sh -c 'command -v meshdesk')" == /usr/bin/meshdesk ]] || fail "meshdesk is not on PATH"
in_root meshdesk --version | grep -q "meshdesk $version" || fail "meshdesk --version"
desktop="$root/usr/share/applications/meshdesk.desktop"
[[ -f "$desktop" ]] || fail "no menu entry"
desktop-file-validate "$desktop" || fail "the menu entry does not validate"
for size in 16 24 32 48 64 128 256 512; do
  [[ -s "$root/usr/share/icons/hicolor/${size}x${size}/apps/meshdesk.png" ]] || fail "no ${size}px icon"
done
[[ -s "$root/usr/share/icons/hicolor/scalable/apps/meshdesk.svg" ]] || fail "no scalable icon"
[[ -s "$root/usr/share/doc/meshdesk/copyright" ]] || fail "no copyright file"

# A user's team, in the platform data dir, survives an upgrade and a removal.
mkdir -p "$root/home/agent"
in_root meshdesk team create --name Acme --agent Ana >/dev/null
in_root dpkg -i "/tmp/meshdesk_${version}-2.deb" >/dev/null
in_root dpkg-query -W -f '${Version}' meshdesk | grep -q -- "-2$" || fail "the upgrade did not install"
in_root meshdesk team members | grep -q Ana || fail "the team is gone after the upgrade"
in_root dpkg -r meshdesk >/dev/null
[[ -d "$root/home/agent/.local/share/meshdesk" ]] || fail "removing the package removed the user's data"
echo "package: meshdesk_${version}-2.deb installs, validates, upgrades and keeps the team"
