#!/bin/sh
# deb-check: build the Debian package (make deb), inspect it with dpkg-deb,
# extract it into a throwaway root, run the extracted binary, check the
# maintainer scripts' syntax and, when systemd-analyze exists, the unit.
set -eu
cd "$(dirname "$0")/.."

fail() { echo "deb-check: FAIL: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || fail "$1 not found"; }
need dpkg-deb
MAKE=${MAKE:-make}

rm -f dist/hygie_*.deb
$MAKE deb
deb=$(ls dist/hygie_*.deb)
[ "$(echo "$deb" | wc -l)" = 1 ] || fail "expected one package in dist/, got: $deb"
echo "deb-check: package $deb ($(du -h "$deb" | cut -f1))"
sum1=$(sha256sum <"$deb")
$MAKE deb >/dev/null
sum2=$(sha256sum <"$deb")
[ "$sum1" = "$sum2" ] || fail "two builds of the package differ (not reproducible)"
echo "deb-check: reproducible, sha256 ${sum1%% *}"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

dpkg-deb --info "$deb" >"$tmp/info"
cat "$tmp/info"
for f in "Package: hygie" "Architecture: $(go env GOARCH)" "Maintainer:" "Description:"; do
	grep -q "$f" "$tmp/info" || fail "control lacks '$f'"
done
grep -q '^ *Depends:' "$tmp/info" && fail "the package has runtime dependencies (the binary is static)"
for s in postinst prerm postrm conffiles; do
	grep -qw "$s" "$tmp/info" || fail "control archive lacks $s"
done

dpkg-deb --contents "$deb" >"$tmp/contents"
cat "$tmp/contents"
check() { # mode path
	grep -Eq -- "^$1 +[0-9]+ [0-9-]+ [0-9:]+ \.$2\$" "$tmp/contents" || fail "$2 missing or not $1"
}
check '-rwxr-xr-x root/root' /usr/bin/hygie
check '-rw-r--r-- root/root' /lib/systemd/system/hygie.service
check '-rw-r--r-- root/root' /etc/hygie/hygie.yaml
check '-rw-r--r-- root/root' /usr/share/doc/hygie/installation.md
check '-rw-r--r-- root/root' /usr/share/doc/hygie/operations.md

dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles >"$tmp/conffiles"
grep -qx /etc/hygie/hygie.yaml "$tmp/conffiles" || fail "/etc/hygie/hygie.yaml is not a conffile"

mkdir "$tmp/root" "$tmp/ctrl"
dpkg-deb -x "$deb" "$tmp/root"
dpkg-deb -e "$deb" "$tmp/ctrl"
for s in postinst prerm postrm; do
	sh -n "$tmp/ctrl/$s" || fail "$s: syntax error"
done
"$tmp/root/usr/bin/hygie" version
# The packaged configuration is valid as shipped (data pointed at a temp dir).
HYGIE_DATA="$tmp/data" "$tmp/root/usr/bin/hygie" config --config "$tmp/root/etc/hygie/hygie.yaml" >/dev/null ||
	fail "hygie config rejects the packaged /etc/hygie/hygie.yaml"

if command -v systemd-analyze >/dev/null 2>&1; then
	# verify resolves ExecStart= on this host: point it at the extracted binary.
	sed "s|/usr/bin/hygie|$tmp/root/usr/bin/hygie|" "$tmp/root/lib/systemd/system/hygie.service" >"$tmp/hygie.service"
	if ! systemd-analyze verify "$tmp/hygie.service" 2>"$tmp/verify"; then
		cat "$tmp/verify" >&2
		fail "systemd-analyze verify"
	fi
	cat "$tmp/verify"
	# verify exits 0 on unknown or invalid directives (it only warns).
	if grep -Ei "unknown|invalid|failed to parse|ignoring" "$tmp/verify"; then
		fail "systemd-analyze verify warns about the unit"
	fi
	echo "deb-check: systemd-analyze verify passed"
else
	echo "deb-check: systemd-analyze not found, unit not verified"
fi
# A real installation, when possible (root, unshare, overlayfs): dpkg -i runs
# the maintainer scripts in a private mount namespace where /etc, /usr and
# /var are overlays in $tmp, so the host is left untouched. Then the
# installation guide's first steps (migrate, an admin user), upgrade
# (reinstall), remove and purge.
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null 2>&1 && command -v dpkg >/dev/null 2>&1 &&
	unshare -m sh -c "mkdir -p '$tmp/probe/u' '$tmp/probe/w' && mount -t overlay overlay -o lowerdir=/etc,upperdir='$tmp/probe/u',workdir='$tmp/probe/w' /etc" 2>/dev/null; then
	cp "$deb" "$tmp/hygie.deb"
	cat >"$tmp/install.sh" <<'INSTALL'
set -eu
for d in etc usr var; do
	mkdir -p "$T/ov/$d/u" "$T/ov/$d/w"
	mount -t overlay overlay -o "lowerdir=/$d,upperdir=$T/ov/$d/u,workdir=$T/ov/$d/w" "/$d"
done
fail() { echo "deb-check: FAIL (install): $*" >&2; exit 1; }
! getent passwd hygie >/dev/null || fail "user hygie exists already on this host; cannot test its creation"
dpkg -i "$T/hygie.deb"
dpkg -s hygie | grep -q '^Status: install ok installed' || fail "not installed"
getent passwd hygie | grep -q ':/var/lib/hygie:/usr/sbin/nologin$' || fail "user hygie: $(getent passwd hygie)"
getent group hygie >/dev/null || fail "no group hygie"
[ "$(stat -c '%U:%G %a' /var/lib/hygie)" = "hygie:hygie 750" ] || fail "/var/lib/hygie: $(stat -c '%U:%G %a' /var/lib/hygie)"
[ -x /usr/bin/hygie ] && [ -f /lib/systemd/system/hygie.service ] && [ -f /etc/hygie/hygie.yaml ] || fail "files missing"
runuser -u hygie -- hygie migrate --config /etc/hygie/hygie.yaml
printf 'correct horse battery staple' | runuser -u hygie -- hygie user create claire --admin --password-stdin --config /etc/hygie/hygie.yaml
runuser -u hygie -- hygie user list --config /etc/hygie/hygie.yaml | grep -q '^claire .*true' || fail "admin not created"
[ "$(stat -c %U /var/lib/hygie/secrets/master.key)" = hygie ] || fail "master key not owned by hygie"
# An edited conffile survives a reinstall (upgrade path).
echo "# local edit" >>/etc/hygie/hygie.yaml
dpkg -i --force-confold "$T/hygie.deb"
grep -q '^# local edit' /etc/hygie/hygie.yaml || fail "conffile edit lost on upgrade"
dpkg -r hygie
[ ! -e /usr/bin/hygie ] || fail "binary left after remove"
[ -f /etc/hygie/hygie.yaml ] || fail "conffile removed by remove (only purge should)"
dpkg -P hygie
[ ! -e /etc/hygie/hygie.yaml ] || fail "conffile left after purge"
[ -d /var/lib/hygie ] && getent passwd hygie >/dev/null || fail "data or user removed (must be kept)"
echo "deb-check: dpkg -i / upgrade / -r / -P in a private namespace passed"
INSTALL
	T="$tmp" unshare -m sh "$tmp/install.sh" || fail "installation test"
else
	echo "deb-check: not root or no overlayfs: real dpkg -i not tested"
fi
echo "deb-check: ok"
