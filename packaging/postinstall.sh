#!/bin/sh
# hygie Debian package: after installation or upgrade.
set -e

if ! getent group hygie >/dev/null; then
	addgroup --system hygie >/dev/null 2>&1 || groupadd --system hygie
fi
if ! getent passwd hygie >/dev/null; then
	adduser --system --ingroup hygie --home /var/lib/hygie --no-create-home \
		--shell /usr/sbin/nologin --gecos "hygie MLOps platform" hygie >/dev/null 2>&1 ||
		useradd --system --gid hygie --home-dir /var/lib/hygie --no-create-home \
			--shell /usr/sbin/nologin --comment "hygie MLOps platform" hygie
fi

mkdir -p /var/lib/hygie
# Recursive only when the directory is not hygie's yet (first install, or a
# data directory restored as root): it may hold many artifacts.
if [ "$(stat -c %U:%G /var/lib/hygie)" != hygie:hygie ]; then
	chown -R hygie:hygie /var/lib/hygie
fi
chmod 0750 /var/lib/hygie
# Secrets (hygie.env, secrets/, TLS key) are readable by the hygie group only.
chown root:hygie /etc/hygie
chmod 0755 /etc/hygie

if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
	if systemctl is-active --quiet hygie; then
		echo "hygie: restarting the running service on the new version"
		systemctl restart hygie || true
		exit 0
	fi
fi

if [ "$1" = "configure" ] && [ -z "$2" ]; then
	cat <<'MSG'
hygie is installed but not started. Next steps (see
/usr/share/doc/hygie/installation.md):
  1. edit /etc/hygie/hygie.yaml (and secrets in /etc/hygie/hygie.env)
  2. runuser -u hygie -- hygie migrate --config /etc/hygie/hygie.yaml
  3. runuser -u hygie -- hygie user create NAME --admin --password-stdin --config /etc/hygie/hygie.yaml
  4. systemctl enable --now hygie
MSG
fi
exit 0
