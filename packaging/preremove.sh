#!/bin/sh
# hygie Debian package: before removal. On upgrade the service keeps running;
# the new version's postinstall restarts it. Data in /var/lib/hygie is kept.
set -e

case "$1" in
upgrade|failed-upgrade) exit 0 ;;
esac

if [ -d /run/systemd/system ]; then
	if systemctl is-active --quiet hygie; then
		systemctl stop hygie || true
	fi
	systemctl disable hygie >/dev/null 2>&1 || true
fi
exit 0
