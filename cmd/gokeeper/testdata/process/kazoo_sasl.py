"""kazoo's SASL DIGEST-MD5 tests (kazoo/tests/test_sasl.py), run against
the server at argv[1], whose JAAS Server section has the users
jaasuser/jaas_password and super/super_secret, with
authProvider.1=SASLAuthenticationProvider and superUser=super. With
argv[2] == "enforce" the server runs with sessionRequireClientSASLAuth.
Prints one "ok <check>" line per verified outcome."""
import sys

from kazoo.client import KazooClient
from kazoo.exceptions import AuthFailedError, NoAuthError
from kazoo.security import make_acl

addr = sys.argv[1]
mode = sys.argv[2] if len(sys.argv) > 2 else ""


def client(**kw):
    c = KazooClient(hosts=addr, timeout=10, **kw)
    return c


def sasl(user, password):
    return client(sasl_options={"mechanism": "DIGEST-MD5", "username": user, "password": password})


def refused(c):
    """Whether the client was refused: kazoo 2.8's start returns once the
    SASL exchange failed (newer ones raise AuthFailedError), and the
    client's requests then fail with AuthFailedError."""
    try:
        c.start(timeout=10)
        c.get("/")
        return False
    except AuthFailedError:
        return True
    finally:
        c.stop()
        c.close()


if mode == "enforce":
    # NB: kazoo 2.8 has no exception for SessionClosedRequireSASLAuth
    # (-124): its connection thread dies on it, so the anonymous client
    # is checked from Go.
    c = sasl("jaasuser", "jaas_password")
    c.start(timeout=10)
    c.get("/")
    print("ok enforce serves sasl")
    c.stop()
    c.close()
    sys.exit(0)

anon = client()
anon.start(timeout=10)

# TestSASLDigestAuthentication.test_connect_sasl_auth
acl = make_acl("sasl", credential="jaasuser", all=True)
c = sasl("jaasuser", "jaas_password")
c.start(timeout=10)
c.create("/1", b"one", acl=(acl,))
try:
    anon.get("/1")
    print("anonymous read a sasl node")
except NoAuthError:
    print("ok sasl acl")
data, _ = c.get("/1")
if data == b"one":
    print("ok sasl owner reads")

# The superuser (zookeeper.superUser=super) passes every ACL.
s = sasl("super", "super_secret")
s.start(timeout=10)
data, _ = s.get("/1")
if data == b"one":
    print("ok sasl superuser")
s.stop()
s.close()
c.delete("/1")
c.stop()
c.close()

# TestLegacySASLDigestAuthentication.test_connect_sasl_auth
lc = client(auth_data=[("sasl", "jaasuser:jaas_password")])
lc.start(timeout=10)
lc.create("/legacy", b"x", acl=(acl,))
try:
    anon.get("/legacy")
    print("anonymous read a sasl node")
except NoAuthError:
    print("ok legacy sasl acl")
lc.delete("/legacy")
lc.stop()
lc.close()

# test_invalid_sasl_auth, and a wrong password of a known user.
if refused(sasl("baduser", "badpassword")):
    print("ok unknown user refused")
if refused(sasl("jaasuser", "wrong_password")):
    print("ok wrong password refused")
anon.stop()
anon.close()
