#!/bin/sh
# hygie Debian package: after removal. Data (/var/lib/hygie) and the hygie
# user are kept even on purge: they hold patient data and its keys. Remove
# them by hand (docs/installation.md, "Uninstall").
set -e
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
fi
exit 0
