#!/usr/bin/env bash
# Starts a throwaway OpenLDAP server (Debian's slapd) on loopback for
# hygie's tests, installing slapd and ldap-utils when missing, and loads a
# small directory: people (inetOrgPerson), groups (groupOfNames, kept in
# the users' memberOf by the memberof overlay, as Active Directory does) and
# a read-only service account. Prints the URL as its last line:
# export HYGIE_TEST_LDAP="$(scripts/ldap.sh | tail -n 1)".
# Idempotent: a server already answering on the port is reused.
#
# The server also speaks LDAPS on port+247 (3636) and StartTLS, with a
# certificate for 127.0.0.1 signed by a throwaway CA: $DIR/ca.pem.
#
# The tests rely on these fixed values (internal/auth/sso/ldap_test.go):
#   base      dc=hygie,dc=test
#   admin     cn=admin,dc=hygie,dc=test / hygie-ldap-admin (to edit groups)
#   service   cn=hygie-reader,ou=services,dc=hygie,dc=test / reader-secret-1
#   users     uid=alice, uid=bob, uid=carol under ou=people (passwords <uid>-password-1)
#   groups    cn=sepsis-scientists, cn=sepsis-viewers, cn=hygie-admins under ou=groups
set -euo pipefail

PORT="${HYGIE_LDAP_PORT:-3389}"
DIR="${HYGIE_LDAP_DIR:-/tmp/hygie-ldap-$PORT}"
URL="ldap://127.0.0.1:$PORT"
TLSURL="ldaps://127.0.0.1:$((PORT + 247))"
BASE="dc=hygie,dc=test"
ADMIN="cn=admin,$BASE"
ADMINPW="hygie-ldap-admin"

SLAPD=/usr/sbin/slapd
if [ ! -x "$SLAPD" ] || ! command -v ldapadd >/dev/null || ! command -v openssl >/dev/null; then
  echo "ldap.sh: installing slapd, ldap-utils and openssl from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q slapd ldap-utils openssl >&2
fi

if ldapsearch -x -H "$URL" -D "$ADMIN" -w "$ADMINPW" -b "$BASE" -s base -LLL dn >/dev/null 2>&1 &&
  LDAPTLS_CACERT="$DIR/ca.pem" ldapsearch -x -H "$TLSURL" -D "$ADMIN" -w "$ADMINPW" -b "$BASE" -s base -LLL dn >/dev/null 2>&1; then
  echo "$URL"
  exit 0
fi

# A slapd of ours that does not answer as expected (half-loaded): stop it.
if [ -f "$DIR/slapd.pid" ]; then
  kill "$(cat "$DIR/slapd.pid")" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$(cat "$DIR/slapd.pid")" 2>/dev/null || break; sleep 0.1; done
fi
rm -rf "$DIR"
mkdir -p "$DIR/data"
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=hygie test LDAP CA" \
  -keyout "$DIR/ca.key" -out "$DIR/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$DIR/server.key" -out "$DIR/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$DIR/san.ext"
openssl x509 -req -in "$DIR/server.csr" -CA "$DIR/ca.pem" -CAkey "$DIR/ca.key" -CAcreateserial -days 3650 \
  -extfile "$DIR/san.ext" -out "$DIR/server.pem" 2>/dev/null
cat >"$DIR/slapd.conf" <<EOF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
TLSCACertificateFile $DIR/ca.pem
TLSCertificateFile $DIR/server.pem
TLSCertificateKeyFile $DIR/server.key
pidfile $DIR/slapd.pid
argsfile $DIR/slapd.args

database mdb
maxsize 104857600
suffix "$BASE"
rootdn "$ADMIN"
rootpw $("/usr/sbin/slappasswd" -s "$ADMINPW")
directory $DIR/data
overlay memberof
memberof-group-oc groupOfNames
memberof-member-ad member
memberof-memberof-ad memberOf
memberof-refint true
access to attrs=userPassword by anonymous auth by self write by * none
access to * by users read by * none
EOF

"$SLAPD" -h "$URL/ $TLSURL/" -f "$DIR/slapd.conf" >&2
for _ in $(seq 1 50); do
  ldapsearch -x -H "$URL" -D "$ADMIN" -w "$ADMINPW" -b "" -s base -LLL namingContexts >/dev/null 2>&1 && break
  sleep 0.1
done

pw() { /usr/sbin/slappasswd -s "$1"; }
ldapadd -x -H "$URL" -D "$ADMIN" -w "$ADMINPW" >&2 <<EOF
dn: $BASE
objectClass: dcObject
objectClass: organization
o: hygie test
dc: hygie

dn: ou=people,$BASE
objectClass: organizationalUnit
ou: people

dn: ou=groups,$BASE
objectClass: organizationalUnit
ou: groups

dn: ou=services,$BASE
objectClass: organizationalUnit
ou: services

dn: cn=hygie-reader,ou=services,$BASE
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: hygie-reader
userPassword: $(pw reader-secret-1)

dn: uid=alice,ou=people,$BASE
objectClass: inetOrgPerson
uid: alice
cn: Alice Martin
sn: Martin
mail: alice@hygie.test
userPassword: $(pw alice-password-1)

dn: uid=bob,ou=people,$BASE
objectClass: inetOrgPerson
uid: bob
cn: Bob Durand
sn: Durand
userPassword: $(pw bob-password-1)

dn: uid=carol,ou=people,$BASE
objectClass: inetOrgPerson
uid: carol
cn: Carol Petit
sn: Petit
userPassword: $(pw carol-password-1)

dn: cn=sepsis-scientists,ou=groups,$BASE
objectClass: groupOfNames
cn: sepsis-scientists
member: uid=alice,ou=people,$BASE
member: uid=carol,ou=people,$BASE

dn: cn=sepsis-viewers,ou=groups,$BASE
objectClass: groupOfNames
cn: sepsis-viewers
member: uid=alice,ou=people,$BASE
member: uid=bob,ou=people,$BASE

dn: cn=hygie-admins,ou=groups,$BASE
objectClass: groupOfNames
cn: hygie-admins
member: uid=bob,ou=people,$BASE
EOF
echo "$URL"
