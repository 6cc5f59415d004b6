"""The user half of the JSON API, over real HTTP through nginx.

Covers registration (POST /user), login and token validation
(/user/token), the admin list (GET /user), read/update/delete of one user
(/user/{id}), request-level errors (bad bodies, unknown paths, wrong
methods), response headers and request ids in the worker's log, and the
seed service's bcrypt hashes being upgraded to argon2id on login.

Every name and email is unique per test (uuid suffix): the stack's
database persists between runs.
"""

import base64
import datetime as dt
import email.utils
import hashlib
import hmac
import json
import os
import re
import subprocess
import time
import uuid
import warnings
from pathlib import Path

import pytest
import requests
import requests.adapters

ROOT = Path(__file__).resolve().parents[2]

PASSWORD = "a-password-123"
USER_KEYS = {"id", "name", "email", "real_name", "avatar", "status", "role",
             "created_at", "updated_at"}
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
REQUEST_ID_RE = re.compile(r"^[0-9a-f]{32}$")


# ---------------------------------------------------------------- helpers

def uniq(prefix="u"):
    return "%s%s" % (prefix, uuid.uuid4().hex[:12])


def bearer(token):
    return {"Authorization": "Bearer " + token}


def parse_time(s):
    return dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)


def server_now(resp):
    return email.utils.parsedate_to_datetime(resp.headers["Date"])


def assert_problem(resp, status):
    """An RFC 9457 problem answer with this status; returns its body."""
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers["Content-Type"].startswith("application/problem+json"), \
        resp.headers.get("Content-Type")
    body = resp.json()
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    return body


def assert_no_secrets(obj):
    """No password or hash anywhere in a JSON answer."""
    text = json.dumps(obj)
    assert "password" not in text
    assert "$argon2" not in text and "$2b$" not in text


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_payload(token):
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def forge_jwt(key, claims, header=None):
    header = header or {"alg": "HS256", "typ": "JWT"}
    signing = "%s.%s" % (b64url(json.dumps(header, separators=(",", ":")).encode()),
                         b64url(json.dumps(claims, separators=(",", ":")).encode()))
    sig = hmac.new(key, signing.encode(), hashlib.sha256).digest()
    return signing + "." + b64url(sig)


def bcrypt_hash(password):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import crypt
        except ImportError:
            pytest.skip("Python's crypt module is not available")
        if crypt.METHOD_BLOWFISH not in crypt.methods:
            pytest.skip("libcrypt here has no bcrypt")
        # Cost 10, like Go's bcrypt.DefaultCost.
        return crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024))


class Api:
    """A session against the stack with the calls these tests repeat."""

    def __init__(self, session):
        self.s = session

    def create(self, **fields):
        return self.s.post("/user", json=fields)

    def register(self, password=PASSWORD, **extra):
        """Creates a user and logs in; returns a dict with id, token, ..."""
        name = extra.pop("name", uniq("u"))
        mail = extra.pop("email", "%s@example.test" % name.lower())
        r = self.create(name=name, email=mail, password=password, **extra)
        assert r.status_code == 201, r.text
        user = r.json()
        user["password"] = password
        user["token"] = self.login(mail, password).json()["token"]
        return user

    def login(self, login, password, field="email"):
        return self.s.post("/user/token", json={field: login, "password": password})

    def validate(self, token):
        return self.s.get("/user/token", headers=bearer(token))


class _SourceAddressAdapter(requests.adapters.HTTPAdapter):
    """Connects from a given local address (any of 127.0.0.0/8 reaches nginx)."""

    def __init__(self, source, **kwargs):
        self.source = source
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


def from_own_address(session):
    """Makes session connect from a loopback address of its own.

    The service counts failed logins per client address; a test's own
    address keeps the failures these tests make on purpose from adding up
    across tests and runs (and from using up 127.0.0.1's allowance).
    """
    octets = uuid.uuid4().bytes[:3]
    source = "127.%d.%d.%d" % (octets[0], octets[1], max(octets[2], 2))
    session.mount("http://", _SourceAddressAdapter(source))
    session.source_address = source
    return session


@pytest.fixture
def api(http):
    return Api(from_own_address(http()))


@pytest.fixture(scope="session")
def admin(stack, base_url):
    """A fresh admin made by scripts/create-admin.sh, logged in."""
    name = uniq("admin")
    mail = "%s@example.test" % name
    env = dict(os.environ, MICRO_USER_ENV=stack["MICRO_USER_ENV"])
    proc = subprocess.run([str(ROOT / "scripts" / "create-admin.sh"), name, mail],
                          input=PASSWORD + "\n", env=env, text=True,
                          capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with from_own_address(requests.Session()) as session:
        r = session.post(base_url + "/user/token", json={"email": mail, "password": PASSWORD},
                         timeout=10)
    assert r.status_code == 200, r.text
    return {"id": r.json()["user_id"], "name": name, "email": mail,
            "token": r.json()["token"]}


@pytest.fixture
def jwt_key(stack):
    if stack.get("JWT_SECRET"):
        return stack["JWT_SECRET"].encode()
    path = stack.get("JWT_SECRET_FILE")
    if not path or not os.path.exists(path):
        pytest.skip("the stack's JWT secret is not readable here")
    return Path(path).read_bytes().rstrip(b"\r\n")


@pytest.fixture
def fcgi_log(stack):
    return Path(stack["VAR_DIR"]) / "log" / "user-fcgi.log"


def log_lines(path):
    out = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


@pytest.fixture(autouse=True)
def no_sanitizer_reports(stack):
    """Fails a test during which a worker reported memory errors or UB."""
    path = Path(stack["VAR_DIR"]) / "log" / "user-fcgi.log"
    start = path.stat().st_size if path.exists() else 0
    yield
    if not path.exists():
        return
    with open(path, "rb") as f:
        f.seek(start)
        new = f.read().decode(errors="replace")
    for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
        assert marker not in new, "sanitizer report in user-fcgi.log:\n" + new[-4000:]


# ---------------------------------------------------------------- registration

def test_create_returns_201_location_and_the_user(api, db):
    name = uniq("Reg.")
    mail = "%s@example.test" % name.lower()
    r = api.create(name=name, email=mail, password=PASSWORD, real_name="Ada Lovelace",
                   avatar="https://example.test/a.png")
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == USER_KEYS
    assert r.headers["Location"] == "/user/%d" % body["id"]
    assert body["name"] == name and body["email"] == mail
    assert body["real_name"] == "Ada Lovelace"
    assert body["avatar"] == "https://example.test/a.png"
    assert body["role"] == "user" and body["status"] == 1
    for key in ("created_at", "updated_at"):
        assert TIME_RE.match(body[key]), body[key]
        assert abs((parse_time(body[key]) - server_now(r)).total_seconds()) < 120
    assert_no_secrets(body)
    stored = db.scalar("SELECT password FROM users WHERE id = %d" % body["id"])
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_create_defaults_optional_fields_to_empty(api):
    name = uniq("min")
    r = api.create(name=name, email=name + "@example.test", password=PASSWORD)
    assert r.status_code == 201, r.text
    assert r.json()["real_name"] == "" and r.json()["avatar"] == ""


def test_create_without_fields_names_each_required_one(api):
    body = assert_problem(api.s.post("/user", json={}), 422)
    assert body["errors"] == {"name": "is required", "email": "is required",
                              "password": "is required"}


def test_create_post_without_body_names_each_required_one(api):
    body = assert_problem(api.s.post("/user"), 422)
    assert set(body["errors"]) == {"name", "email", "password"}


def _email_of_length(n):
    """A valid-looking unique address of exactly n characters."""
    local = uniq("e")
    rest = n - len(local) - 1 - len(".test")    # labels and the dots between them
    labels = []
    while rest > 0:
        take = min(63, rest)
        if rest - take == 1:                    # a lone dot would leave an empty label
            take -= 1
        labels.append("d" * take)
        rest -= take
        if rest > 0:
            rest -= 1                           # the dot before the next label
    addr = local + "@" + ".".join(labels) + ".test"
    assert len(addr) == n, (len(addr), addr)
    return addr


INVALID_CREATE = [
    ("name", "ab", "must be 3 to 32 characters"),
    ("name", "a" * 33, "must be 3 to 32 characters"),
    ("name", "bad name", "may hold only letters, digits, '_', '.' and '-'"),
    ("name", "bad@name", "may hold only letters, digits, '_', '.' and '-'"),
    ("name", "", "must be 3 to 32 characters"),
    ("email", "not-an-email", "must be a valid email address"),
    ("email", "two@@example.test", "must be a valid email address"),
    ("email", "nodot@localhost", "must be a valid email address"),
    ("email", "a b@example.test", "must be a valid email address"),
    ("email", "x@example.test\r\nBcc: evil@example.test", "must be a valid email address"),
    ("email", "", "is required"),
    ("password", "short12", "must be 8 to 128 characters"),
    ("password", "\u00e9" * 7, "must be 8 to 128 characters"),   # 14 bytes, 7 code points
    ("password", "p" * 129, "must be 8 to 128 characters"),
    ("password", "", "must be 8 to 128 characters"),
    ("real_name", "x" * 65, "must be at most 64 characters"),
    ("real_name", "\u5f20" * 65, "must be at most 64 characters"),
    ("real_name", "tab\there", "must not contain control characters"),
    ("real_name", "nl\nhere", "must not contain control characters"),
    ("real_name", "c1\u0085here", "must not contain control characters"),
    ("avatar", "ftp://example.test/a.png", "must be an http or https URL"),
    ("avatar", "javascript:alert(1)", "must be an http or https URL"),
    ("avatar", "https://example.test/a b.png", "must be a URL without spaces or quotes"),
    ("avatar", 'https://example.test/"><script>', "must be a URL without spaces or quotes"),
    ("avatar", "https://example.test/" + "a" * 235, "must be at most 255 characters"),
]


@pytest.mark.parametrize("field,value,message", INVALID_CREATE,
                         ids=["%s-%d" % (f, i) for i, (f, _, _) in enumerate(INVALID_CREATE)])
def test_create_rejects_invalid_field(api, db, field, value, message):
    name = uniq("inv")
    fields = {"name": name, "email": name + "@example.test", "password": PASSWORD}
    fields[field] = value
    body = assert_problem(api.create(**fields), 422)
    assert body["errors"] == {field: message}
    assert db.scalar("SELECT COUNT(*) FROM users WHERE email = '%s@example.test' "
                     "OR name = '%s'" % (name, name)) == "0"


def test_create_rejects_overlong_email(api):
    addr = _email_of_length(255)
    body = assert_problem(api.create(name=uniq("long"), email=addr, password=PASSWORD), 422)
    assert body["errors"] == {"email": "must be at most 254 characters"}


@pytest.mark.parametrize("value", [12345678, True, ["a-password-123"], {"x": "y"}, 1.5])
def test_create_non_string_fields_must_be_strings(api, value):
    fields = {"name": value, "email": value, "password": value,
              "real_name": value, "avatar": value}
    body = assert_problem(api.s.post("/user", json=fields), 422)
    assert body["errors"] == {k: "must be a string" for k in fields}


def test_create_refuses_nul_inside_a_string(api, db):
    name = uniq("nul")
    # A NUL would silently cut "abcdefgh\0..." to its first 8 bytes.
    raw = ('{"name":"%s","email":"%s@example.test","password":"abcdefgh\\u0000rest-of-it"}'
           % (name, name)).encode()
    r = api.s.post("/user", data=raw, headers={"Content-Type": "application/json"})
    body = assert_problem(r, 422)
    assert body["errors"] == {"password": "must be a string"}
    assert db.scalar("SELECT COUNT(*) FROM users WHERE name = '%s'" % name) == "0"


def test_create_accepts_values_at_their_limits(api, db):
    name = ("L_.-" + uuid.uuid4().hex)[:32]
    addr = _email_of_length(254)
    password = "\U0001F511" * 128             # 128 code points, 512 bytes
    real_name = "\u5f20" * 64                 # 64 code points, 192 bytes
    avatar = "http://example.test/" + "a" * 235
    assert len(name) == 32 and len(avatar) == 255
    r = api.create(name=name, email=addr, password=password, real_name=real_name,
                   avatar=avatar)
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["name"], body["email"], body["real_name"], body["avatar"]) == \
        (name, addr, real_name, avatar)
    assert api.login(addr, password).status_code == 200
    while True:                               # a free three-character name
        short = uuid.uuid4().hex[:3]
        if db.scalar("SELECT COUNT(*) FROM users WHERE name = '%s'" % short) == "0":
            break
    r3 = api.create(name=short, email=uniq("s") + "@example.test",
                    password="\u00e9" * 8)   # 8 code points
    assert r3.status_code == 201, r3.text
    assert r3.json()["name"] == short


def test_create_accepts_json_with_charset(api):
    name = uniq("cs")
    r = api.s.post("/user", data=json.dumps({"name": name, "email": name + "@example.test",
                                             "password": PASSWORD}).encode(),
                   headers={"Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 201, r.text


def test_create_ignores_fields_it_does_not_own(api, db):
    name = uniq("mass")
    r = api.create(name=name, email=name + "@example.test", password=PASSWORD, role="admin",
                   id=1, status="0", password_version="7", created_at="2000-01-01T00:00:00Z")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["role"] == "user" and body["id"] != 1 and body["status"] == 1
    assert not body["created_at"].startswith("2000")
    assert db.rows("SELECT role, password_version FROM users WHERE id = %d" % body["id"]) == \
        [("user", "1")]
    token = api.login(name + "@example.test", PASSWORD).json()["token"]
    assert api.validate(token).json()["admin"] is False


def test_password_is_kept_exactly_as_sent(api):
    spaced = "  spaced out pw  "
    user = api.register(password=spaced)
    assert api.login(user["email"], spaced).status_code == 200
    assert api.login(user["email"], spaced.strip()).status_code == 401
    assert api.login(user["email"], spaced.upper()).status_code == 401


def test_create_duplicate_name_is_409_naming_name(api, db):
    user = api.register()
    other = uniq("dup") + "@example.test"
    body = assert_problem(api.create(name=user["name"], email=other, password=PASSWORD), 409)
    assert body["errors"] == {"name": "is already taken"}
    assert "uk_users" not in json.dumps(body) and "Duplicate" not in json.dumps(body)
    assert db.scalar("SELECT COUNT(*) FROM users WHERE email = '%s'" % other) == "0"


def test_create_duplicate_email_is_409_naming_email(api):
    user = api.register()
    body = assert_problem(api.create(name=uniq("dup"), email=user["email"], password=PASSWORD),
                          409)
    assert body["errors"] == {"email": "is already registered"}


def test_create_duplicate_email_differing_in_case_is_409(api):
    user = api.register()
    body = assert_problem(api.create(name=uniq("dup"), email=user["email"].upper(),
                                     password=PASSWORD), 409)
    assert body["errors"] == {"email": "is already registered"}


# ---------------------------------------------------------------- login

def test_login_by_email_gives_a_bearer_token(api, stack):
    user = api.register()
    r = api.login(user["email"], PASSWORD)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"token", "token_type", "expires_at", "user_id"}
    assert body["token_type"] == "Bearer" and body["user_id"] == user["id"]
    assert r.headers["Cache-Control"] == "no-store"
    ttl = int(stack.get("JWT_TTL") or 3600)
    expires = parse_time(body["expires_at"])
    assert abs((expires - server_now(r)).total_seconds() - ttl) < 60
    claims = jwt_payload(body["token"])
    assert claims["sub"] == str(user["id"])
    assert claims["iss"] == (stack.get("JWT_ISSUER") or "micro-user")
    assert claims["exp"] == int(expires.timestamp())
    v = api.validate(body["token"])
    assert v.status_code == 200 and v.json()["user_id"] == user["id"]


def test_login_by_name_with_login_field(api):
    user = api.register()
    r = api.login(user["name"], PASSWORD, field="login")
    assert r.status_code == 200, r.text
    assert r.json()["user_id"] == user["id"]


def test_login_email_is_case_insensitive(api):
    user = api.register()
    r = api.login(user["email"].upper(), PASSWORD)
    assert r.status_code == 200 and r.json()["user_id"] == user["id"]


def test_wrong_password_and_unknown_account_answer_identically(api):
    user = api.register()
    wrong = api.login(user["email"], "not-the-password")
    unknown = api.login(uniq("nobody") + "@example.test", "not-the-password")
    wrong_name = api.login(user["name"], "not-the-password", field="login")
    for r in (wrong, unknown, wrong_name):
        assert_problem(r, 401)
        assert "token" not in r.json()
    assert wrong.text == unknown.text == wrong_name.text
    assert wrong.headers["Content-Type"] == unknown.headers["Content-Type"]
    assert ("WWW-Authenticate" in wrong.headers) == ("WWW-Authenticate" in unknown.headers)


def test_login_missing_fields_is_422(api):
    body = assert_problem(api.s.post("/user/token", json={}), 422)
    assert body["errors"] == {"email": "is required", "password": "is required"}
    body = assert_problem(api.s.post("/user/token", json={"email": "x@example.test"}), 422)
    assert body["errors"] == {"password": "is required"}


# ---------------------------------------------------------------- token validation

def test_validate_token_of_user_and_admin(api, admin):
    user = api.register()
    r = api.validate(user["token"])
    assert r.status_code == 200
    assert r.json() == {"valid": True, "user_id": user["id"], "admin": False}
    r = api.validate(admin["token"])
    assert r.json() == {"valid": True, "user_id": admin["id"], "admin": True}


def test_validate_accepts_lowercase_scheme(api):
    user = api.register()
    r = api.s.get("/user/token", headers={"Authorization": "bearer " + user["token"]})
    assert r.status_code == 200 and r.json()["user_id"] == user["id"]


def _tamper_signature(token):
    head, payload, sig = token.split(".")
    flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
    return "%s.%s.%s" % (head, payload, flipped)


def _tamper_payload(token, **changes):
    head, payload, sig = token.split(".")
    claims = jwt_payload(token)
    claims.update(changes)
    return "%s.%s.%s" % (head, b64url(json.dumps(claims).encode()), sig)


def test_invalid_tokens_get_401_with_www_authenticate(api, admin):
    user = api.register()
    cases = {
        "missing": {},
        "empty bearer": {"Authorization": "Bearer "},
        "garbage": bearer("garbage"),
        "three garbage parts": bearer("a.b.c"),
        "basic scheme": {"Authorization": "Basic " + base64.b64encode(
            ("%s:%s" % (user["email"], PASSWORD)).encode()).decode()},
        "tampered signature": bearer(_tamper_signature(user["token"])),
        "tampered payload": bearer(_tamper_payload(user["token"], sub=str(admin["id"]))),
        "huge": bearer("x" * 5000),
    }
    for what, headers in cases.items():
        r = api.s.get("/user/token", headers=headers)
        assert_problem(r, 401)
        assert r.headers.get("WWW-Authenticate", "").startswith("Bearer"), what
    # The payload swap must not have given the user the admin's rights.
    r = api.s.get("/user", headers=bearer(_tamper_payload(user["token"], sub=str(admin["id"]))))
    assert r.status_code == 401


def test_forged_claims_are_checked(api, stack, jwt_key):
    user = api.register()
    now = int(time.time())
    iss = stack.get("JWT_ISSUER") or "micro-user"
    good = {"iss": iss, "sub": str(user["id"]), "iat": now, "exp": now + 600, "pwv": 1}
    # The control: a token we sign like the service does is accepted.
    assert api.validate(forge_jwt(jwt_key, good)).status_code == 200
    bad = {
        "expired": dict(good, exp=now - 5),
        "other issuer": dict(good, iss="someone-else"),
        "old password version": dict(good, pwv=0),
        "no password version": {k: v for k, v in good.items() if k != "pwv"},
        "no subject": {k: v for k, v in good.items() if k != "sub"},
        "non-numeric subject": dict(good, sub="admin"),
        "missing user": dict(good, sub="999999999999"),
    }
    for what, claims in bad.items():
        r = api.validate(forge_jwt(jwt_key, claims))
        assert r.status_code == 401, what
        assert "WWW-Authenticate" in r.headers, what
    wrong_key = forge_jwt(b"k" * 48, good)
    assert api.validate(wrong_key).status_code == 401
    unsigned = "%s.%s." % (b64url(b'{"alg":"none","typ":"JWT"}'),
                           b64url(json.dumps(good).encode()))
    assert api.validate(unsigned).status_code == 401


def test_session_cookie_carries_the_token_too(http, api):
    user = api.register()
    s = from_own_address(http())
    r = s.get("/user/%d" % user["id"], cookies={"session": user["token"]})
    assert r.status_code == 200 and r.json()["id"] == user["id"]


# ---------------------------------------------------------------- list

def test_list_needs_a_token_and_an_admin(api):
    user = api.register()
    r = api.s.get("/user")
    assert_problem(r, 401)
    assert "WWW-Authenticate" in r.headers
    assert_problem(api.s.get("/user", headers=bearer(user["token"])), 403)


def test_list_defaults_newest_first_and_counts_every_user(api, admin, db):
    made = [api.create(name=n, email=n + "@example.test", password=PASSWORD).json()["id"]
            for n in (uniq("la"), uniq("lb"), uniq("lc"))]
    r = api.s.get("/user", headers=bearer(admin["token"]))
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"users", "total", "page", "per_page"}
    assert body["page"] == 1 and body["per_page"] == 10
    assert body["total"] == int(db.scalar("SELECT COUNT(*) FROM users"))
    assert len(body["users"]) == min(10, body["total"])
    assert [u["id"] for u in body["users"][:3]] == made[::-1]
    for u in body["users"]:
        assert set(u) == USER_KEYS
    assert_no_secrets(body)


def test_list_pages_follow_on(api, admin):
    for n in range(4):
        api.create(name=uniq("pg"), email=uniq("pg") + "@example.test", password=PASSWORD)
    h = bearer(admin["token"])
    first = api.s.get("/user?page=1&per_page=2", headers=h).json()
    second = api.s.get("/user?page=2&perPage=2", headers=h).json()
    both = api.s.get("/user?per_page=4", headers=h).json()
    assert (first["page"], first["per_page"], len(first["users"])) == (1, 2, 2)
    assert (second["page"], second["per_page"], len(second["users"])) == (2, 2, 2)
    assert [u["id"] for u in first["users"] + second["users"]] == \
        [u["id"] for u in both["users"]]


def test_list_per_page_is_capped_at_100(api, admin):
    h = bearer(admin["token"])
    body = api.s.get("/user?per_page=500", headers=h).json()
    assert body["per_page"] == 100
    assert len(body["users"]) == min(100, body["total"])
    assert api.s.get("/user?perPage=500", headers=h).json()["per_page"] == 100
    # per_page wins over its alias when both are given.
    assert api.s.get("/user?per_page=3&perPage=7", headers=h).json()["per_page"] == 3


def test_list_page_past_the_end_is_empty(api, admin):
    body = api.s.get("/user?page=1000000&per_page=100", headers=bearer(admin["token"])).json()
    assert body["users"] == [] and body["page"] == 1000000 and body["total"] > 0


@pytest.mark.parametrize("query,field", [
    ("page=0", "page"), ("page=-1", "page"), ("page=abc", "page"), ("page=1.5", "page"),
    ("page=", "page"), ("page=99999999999999999999", "page"),
    ("per_page=0", "per_page"), ("per_page=x", "per_page"), ("perPage=abc", "perPage"),
    ("perPage=-3", "perPage"),
])
def test_list_bad_pagination_is_400(api, admin, query, field):
    body = assert_problem(api.s.get("/user?" + query, headers=bearer(admin["token"])), 400)
    assert set(body["errors"]) == {field}
    assert isinstance(body["errors"][field], str) and body["errors"][field]


# ---------------------------------------------------------------- get

def test_get_self_other_and_admin(api, admin):
    me, other = api.register(), api.register()
    r = api.s.get("/user/%d" % me["id"], headers=bearer(me["token"]))
    assert r.status_code == 200
    assert set(r.json()) == USER_KEYS and r.json()["email"] == me["email"]
    assert_problem(api.s.get("/user/%d" % other["id"], headers=bearer(me["token"])), 403)
    assert_problem(api.s.get("/user/%d" % me["id"]), 401)
    r = api.s.get("/user/%d" % other["id"], headers=bearer(admin["token"]))
    assert r.status_code == 200 and r.json()["id"] == other["id"]


def test_head_answers_like_get_without_a_body(api):
    me = api.register()
    r = api.s.head("/user/%d" % me["id"], headers=bearer(me["token"]))
    assert r.status_code == 200 and r.content == b""
    assert r.headers["Content-Type"].startswith("application/json")
    assert api.s.head("/user/%d" % me["id"]).status_code == 401


def test_admin_on_a_missing_id_is_404(api, admin):
    h = bearer(admin["token"])
    missing = "/user/999999999999999"
    assert_problem(api.s.get(missing, headers=h), 404)
    assert_problem(api.s.put(missing, json={"real_name": "x"}, headers=h), 404)
    assert_problem(api.s.patch(missing, json={"real_name": "x"}, headers=h), 404)
    assert_problem(api.s.delete(missing, headers=h), 404)


def test_user_on_a_missing_id_is_403_not_404(api):
    me = api.register()
    assert_problem(api.s.get("/user/999999999999999", headers=bearer(me["token"])), 403)


# ---------------------------------------------------------------- update

@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_update_changes_only_given_fields(api, db, method):
    me = api.register(real_name="Before", avatar="https://example.test/before.png")
    db.execute("UPDATE users SET updated_at = created_at - INTERVAL 1 MINUTE "
               "WHERE id = %d" % me["id"])
    r = api.s.request(method, "/user/%d" % me["id"], json={"real_name": "After"},
                      headers=bearer(me["token"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == USER_KEYS
    assert body["real_name"] == "After"
    assert body["avatar"] == "https://example.test/before.png"
    assert (body["name"], body["email"], body["role"]) == (me["name"], me["email"], "user")
    assert body["created_at"] == me["created_at"]
    assert db.scalar("SELECT updated_at >= created_at FROM users WHERE id = %d"
                     % me["id"]) == "1"
    # A profile change keeps the token.
    assert api.validate(me["token"]).status_code == 200
    got = api.s.get("/user/%d" % me["id"], headers=bearer(me["token"])).json()
    assert got["real_name"] == "After"


def test_update_accepts_merge_patch_json_and_ignores_foreign_fields(api, db):
    me = api.register()
    r = api.s.patch("/user/%d" % me["id"],
                    data=json.dumps({"real_name": "Merged", "id": 1, "created_at": "x",
                                     "password_version": "0"}).encode(),
                    headers=dict(bearer(me["token"]),
                                 **{"Content-Type": "application/merge-patch+json"}))
    assert r.status_code == 200, r.text
    assert r.json()["real_name"] == "Merged" and r.json()["id"] == me["id"]
    assert db.scalar("SELECT password_version FROM users WHERE id = %d" % me["id"]) == "1"
    assert api.validate(me["token"]).status_code == 200


def test_update_name_email_and_clear_avatar(api):
    me = api.register(avatar="https://example.test/a.png")
    new_name = uniq("ren")
    new_mail = new_name + "@example.test"
    r = api.s.patch("/user/%d" % me["id"], json={"name": new_name, "email": new_mail,
                                                 "avatar": "", "current_password": PASSWORD},
                    headers=bearer(me["token"]))
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["email"], r.json()["avatar"]) == (new_name, new_mail, "")
    assert api.login(new_mail, PASSWORD).status_code == 200
    assert api.login(me["email"], PASSWORD).status_code == 401


def test_update_rejects_invalid_fields_and_changes_nothing(api, db):
    me = api.register(real_name="Kept")
    r = api.s.patch("/user/%d" % me["id"],
                    json={"email": "nope", "name": "x", "real_name": "Changed",
                          "avatar": "ftp://x", "password": "short"},
                    headers=bearer(me["token"]))
    body = assert_problem(r, 422)
    assert set(body["errors"]) == {"email", "name", "avatar", "password"}
    assert db.rows("SELECT name, email, real_name FROM users WHERE id = %d" % me["id"]) == \
        [(me["name"], me["email"], "Kept")]


def test_update_non_string_field_must_be_a_string(api):
    me = api.register()
    body = assert_problem(api.s.patch("/user/%d" % me["id"], json={"real_name": 5},
                                      headers=bearer(me["token"])), 422)
    assert body["errors"] == {"real_name": "must be a string"}


def test_update_to_a_taken_name_or_email_is_409(api, db):
    me, other = api.register(), api.register()
    h = bearer(me["token"])
    body = assert_problem(api.s.patch("/user/%d" % me["id"], json={"email": other["email"],
                                                                   "current_password": PASSWORD},
                                      headers=h), 409)
    assert set(body["errors"]) == {"email"}
    body = assert_problem(api.s.patch("/user/%d" % me["id"], json={"name": other["name"]},
                                      headers=h), 409)
    assert set(body["errors"]) == {"name"}
    assert db.rows("SELECT name, email FROM users WHERE id = %d" % me["id"]) == \
        [(me["name"], me["email"])]


def test_other_user_cannot_update_or_delete(api, db):
    me, other = api.register(), api.register(real_name="Victim")
    h = bearer(me["token"])
    assert_problem(api.s.patch("/user/%d" % other["id"], json={"real_name": "Pwned"},
                               headers=h), 403)
    assert_problem(api.s.put("/user/%d" % other["id"], json={"password": "new-password-1"},
                             headers=h), 403)
    assert_problem(api.s.delete("/user/%d" % other["id"], headers=h), 403)
    assert_problem(api.s.patch("/user/%d" % other["id"], json={"real_name": "Pwned"}), 401)
    assert db.scalar("SELECT real_name FROM users WHERE id = %d" % other["id"]) == "Victim"
    assert api.login(other["email"], PASSWORD).status_code == 200


def test_password_change_needs_the_current_password(api, db):
    me = api.register()
    h = bearer(me["token"])
    url = "/user/%d" % me["id"]
    body = assert_problem(api.s.patch(url, json={"password": "new-password-1"}, headers=h), 422)
    assert set(body["errors"]) == {"current_password"}
    body = assert_problem(api.s.patch(url, json={"password": "new-password-1",
                                                 "current_password": "wrong-password"},
                                      headers=h), 422)
    assert set(body["errors"]) == {"current_password"}
    # Nothing changed: the token and the old password still work.
    assert api.validate(me["token"]).status_code == 200
    assert api.login(me["email"], PASSWORD).status_code == 200
    assert db.scalar("SELECT password_version FROM users WHERE id = %d" % me["id"]) == "1"


def test_password_change_revokes_earlier_tokens(api, db):
    me = api.register()
    second = api.login(me["email"], PASSWORD).json()["token"]
    url = "/user/%d" % me["id"]
    pwv = int(db.scalar("SELECT password_version FROM users WHERE id = %d" % me["id"]))
    r = api.s.put(url, json={"password": "new-password-1", "current_password": PASSWORD},
                  headers=bearer(me["token"]))
    assert r.status_code == 200, r.text
    assert_no_secrets(r.json())
    assert int(db.scalar("SELECT password_version FROM users WHERE id = %d"
                         % me["id"])) == pwv + 1
    for old in (me["token"], second):
        assert_problem(api.validate(old), 401)
        assert_problem(api.s.get(url, headers=bearer(old)), 401)
    assert_problem(api.login(me["email"], PASSWORD), 401)
    fresh = api.login(me["email"], "new-password-1")
    assert fresh.status_code == 200
    assert api.s.get(url, headers=bearer(fresh.json()["token"])).status_code == 200


def test_admin_sets_a_password_without_the_current_one(api, admin):
    user = api.register()
    r = api.s.patch("/user/%d" % user["id"], json={"password": "set-by-admin-1"},
                    headers=bearer(admin["token"]))
    assert r.status_code == 200, r.text
    assert api.validate(user["token"]).status_code == 401
    assert api.login(user["email"], "set-by-admin-1").status_code == 200
    assert api.validate(admin["token"]).status_code == 200


def test_role_changes_are_for_admins_only(api, admin, db):
    user = api.register()
    url = "/user/%d" % user["id"]
    for role in ("admin", "user"):
        body = assert_problem(api.s.patch(url, json={"role": role},
                                          headers=bearer(user["token"])), 422)
        assert set(body["errors"]) == {"role"}
    assert db.scalar("SELECT role FROM users WHERE id = %d" % user["id"]) == "user"
    body = assert_problem(api.s.patch(url, json={"role": "root"},
                                      headers=bearer(admin["token"])), 422)
    assert set(body["errors"]) == {"role"}
    r = api.s.patch(url, json={"role": "admin"}, headers=bearer(admin["token"]))
    assert r.status_code == 200 and r.json()["role"] == "admin"
    # The user's existing token now carries admin rights (role read per request).
    assert api.validate(user["token"]).json()["admin"] is True
    assert api.s.get("/user", headers=bearer(user["token"])).status_code == 200
    r = api.s.patch(url, json={"role": "user"}, headers=bearer(admin["token"]))
    assert r.json()["role"] == "user"
    assert api.s.get("/user", headers=bearer(user["token"])).status_code == 403


# ---------------------------------------------------------------- delete

def test_delete_self_then_token_and_account_are_gone(api, admin, db):
    me = api.register()
    url = "/user/%d" % me["id"]
    r = api.s.delete(url, headers=bearer(me["token"]))
    assert r.status_code == 204 and r.content == b""
    assert_problem(api.validate(me["token"]), 401)
    assert_problem(api.s.get(url, headers=bearer(me["token"])), 401)
    assert_problem(api.s.get(url, headers=bearer(admin["token"])), 404)
    assert_problem(api.login(me["email"], PASSWORD), 401)
    assert db.scalar("SELECT COUNT(*) FROM users WHERE id = %d" % me["id"]) == "0"
    # Name and email are free again.
    r = api.create(name=me["name"], email=me["email"], password=PASSWORD)
    assert r.status_code == 201 and r.json()["id"] != me["id"]
    # The deleted user's token does not work for the new account either.
    assert api.validate(me["token"]).status_code == 401


def test_admin_deletes_a_user_once(api, admin):
    user = api.register()
    url = "/user/%d" % user["id"]
    assert api.s.delete(url, headers=bearer(admin["token"])).status_code == 204
    assert_problem(api.s.delete(url, headers=bearer(admin["token"])), 404)
    assert api.validate(user["token"]).status_code == 401


# ---------------------------------------------------------------- request-level errors

@pytest.mark.parametrize("raw", [
    b"{", b"[]", b'["name"]', b'"a string"', b"42", b"null", b"",
    b'{"name":"a"} trailing', b'{"name":"a"}{"name":"b"}', b"{'name':'single'}",
    b'{"name":"\xff\xfe"}',
    b'{"a":' * 20 + b"1" + b"}" * 20,
], ids=["open", "array", "array-of-str", "string", "number", "null", "empty", "trailing",
        "two-objects", "single-quotes", "bad-utf8", "deep"])
def test_malformed_json_is_400_problem(api, db, raw):
    before = db.scalar("SELECT COUNT(*) FROM users")
    r = api.s.post("/user", data=raw, headers={"Content-Type": "application/json"})
    assert_problem(r, 400)
    assert db.scalar("SELECT COUNT(*) FROM users") == before


def test_malformed_json_on_update_and_login_is_400(api):
    me = api.register()
    h = dict(bearer(me["token"]), **{"Content-Type": "application/json"})
    assert_problem(api.s.patch("/user/%d" % me["id"], data=b"[1]", headers=h), 400)
    assert_problem(api.s.post("/user/token", data=b'{"email":', headers=h), 400)


@pytest.mark.parametrize("ctype", ["text/plain", "application/xml", None])
def test_unsupported_body_type_is_415(api, ctype):
    name = uniq("ct")
    data = json.dumps({"name": name, "email": name + "@example.test",
                       "password": PASSWORD}).encode()
    headers = {"Content-Type": ctype} if ctype else {}
    r = api.s.post("/user", data=data, headers=headers)
    assert_problem(r, 415)


def test_body_over_the_limit_is_413_and_at_the_limit_is_read(api, stack, db):
    limit = int(stack.get("BODY_LIMIT") or 65536)
    name = uniq("big")
    doc = json.dumps({"name": name, "email": name + "@example.test", "password": PASSWORD})
    over = (doc[:-1] + " " * (limit + 1 - len(doc)) + "}").encode()
    assert len(over) == limit + 1
    r = api.s.post("/user", data=over, headers={"Content-Type": "application/json"})
    assert_problem(r, 413)
    assert db.scalar("SELECT COUNT(*) FROM users WHERE name = '%s'" % name) == "0"
    exact = (doc[:-1] + " " * (limit - len(doc)) + "}").encode()
    assert len(exact) == limit
    r = api.s.post("/user", data=exact, headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text


def test_chunked_body_is_read(api):
    name = uniq("chunk")
    parts = [b'{"name":"%s",' % name.encode(), b'"email":"%s@example.test",' % name.encode(),
             b'"password":"%s"}' % PASSWORD.encode()]
    r = api.s.post("/user", data=iter(parts), headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    assert r.json()["name"] == name


@pytest.mark.parametrize("path", [
    "/user/abc", "/user/1/x", "/user/nope", "/user/", "/user/0", "/user/007", "/user/1x",
    "/user/-1", "/user/99999999999999999999", "/user/1/", "/user/token/x",
])
def test_unknown_user_paths_are_404_problem(api, admin, path):
    for method in ("GET", "DELETE"):
        r = api.s.request(method, path, headers=bearer(admin["token"]))
        assert_problem(r, 404)
        assert r.json()["title"] == "Not Found"


@pytest.mark.parametrize("method,path,allowed", [
    ("DELETE", "/user", {"GET", "POST"}),
    ("PUT", "/user", {"GET", "POST"}),
    ("PUT", "/user/token", {"GET", "POST"}),
    ("DELETE", "/user/token", {"GET", "POST"}),
    ("POST", "/user/5", {"GET", "PUT", "PATCH", "DELETE"}),
])
def test_wrong_method_is_405_with_allow(api, method, path, allowed):
    r = api.s.request(method, path)
    assert_problem(r, 405)
    listed = {m.strip() for m in r.headers["Allow"].split(",")}
    assert allowed <= listed and method not in listed
    assert listed - allowed <= {"HEAD"}


# ---------------------------------------------------------------- headers and logs

def test_json_answers_carry_the_safety_headers(api, admin):
    user = api.register()
    answers = [
        api.create(name=uniq("hd"), email=uniq("hd") + "@example.test", password=PASSWORD),
        api.login(user["email"], PASSWORD),
        api.validate(user["token"]),
        api.s.get("/user/%d" % user["id"], headers=bearer(user["token"])),
        api.s.get("/user", headers=bearer(admin["token"])),
        api.create(name="x"),
        api.validate("garbage"),
        api.s.get("/user/abc"),
    ]
    for r in answers:
        assert r.headers["Content-Type"].split(";")[0] in (
            "application/json", "application/problem+json"), r.headers
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Cache-Control"] == "no-store"
        assert REQUEST_ID_RE.match(r.headers.get("X-Request-Id", "")), r.headers
    assert len({r.headers["X-Request-Id"] for r in answers}) == len(answers)
    assert answers[0].headers["Content-Type"].split(";")[0] == "application/json"
    deleted = api.s.delete("/user/%d" % user["id"], headers=bearer(user["token"]))
    assert deleted.status_code == 204
    assert REQUEST_ID_RE.match(deleted.headers.get("X-Request-Id", ""))


def _wait_log_line(path, request_id, timeout=5):
    deadline = time.monotonic() + timeout
    while True:
        found = [o for o in log_lines(path) if o.get("request_id") == request_id]
        if any(o.get("event") == "http.request" for o in found) or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_log_line_carries_the_answers_request_id(api, fcgi_log):
    user = api.register()
    cases = [
        (api.s.get("/user/%d" % user["id"], headers=bearer(user["token"])), "GET"),
        (api.create(name="x"), "POST"),
        (api.s.get("/user/abc"), "GET"),
        (api.s.post("/user", data=b"[]", headers={"Content-Type": "application/json"}), "POST"),
        (api.s.post("/user", data=b"x", headers={"Content-Type": "text/plain"}), "POST"),
        (api.s.delete("/user"), "DELETE"),
        # A client's own X-Request-Id must not split the two apart.
        (api.s.get("/user/token", headers=dict(bearer(user["token"]),
                                               **{"X-Request-Id": "client-chosen-id"})), "GET"),
    ]
    for r, method in cases:
        rid = r.headers["X-Request-Id"]
        lines = _wait_log_line(fcgi_log, rid)
        req = [o for o in lines if o.get("event") == "http.request"]
        assert len(req) == 1, (rid, lines)
        assert req[0]["status"] == str(r.status_code)
        assert req[0]["method"] == method
        assert req[0]["path"] == r.request.path_url.split("?")[0]


def test_passwords_and_tokens_never_reach_the_log(api, admin, fcgi_log):
    pw1 = "Logcheck" + uuid.uuid4().hex
    pw2 = "Logcheck" + uuid.uuid4().hex
    wrong = "Logcheck" + uuid.uuid4().hex
    user = api.register(password=pw1)
    assert api.login(user["email"], wrong).status_code == 401
    assert api.login(uniq("none") + "@example.test", wrong).status_code == 401
    bad = api.create(name="x", email="bad", password=wrong)       # invalid: 422
    assert bad.status_code == 422
    r = api.s.patch("/user/%d" % user["id"], json={"password": pw2, "current_password": wrong},
                    headers=bearer(user["token"]))
    assert r.status_code == 422
    r = api.s.patch("/user/%d" % user["id"], json={"password": pw2, "current_password": pw1},
                    headers=bearer(user["token"]))
    assert r.status_code == 200
    token = api.login(user["email"], pw2).json()["token"]
    last = api.validate(token)
    assert last.status_code == 200
    _wait_log_line(fcgi_log, last.headers["X-Request-Id"])
    text = fcgi_log.read_text(errors="replace")
    assert last.headers["X-Request-Id"] in text     # the log does hold this test's requests
    # The JWT header is the same for everyone: look for the signatures.
    for secret in (pw1, pw2, wrong, user["token"].split(".")[2], token.split(".")[2]):
        assert secret not in text, "found %r in %s" % (secret, fcgi_log)


# ---------------------------------------------------------------- the seed's bcrypt hashes

def _seed_user(db, hashed):
    name = uniq("seed")
    mail = name + "@example.test"
    db.execute("INSERT INTO users (created_at, updated_at, name, email, real_name, avatar, "
               "status, password) VALUES (NOW(3), NOW(3), '%s', '%s', 'Seed User', '', 1, "
               "'%s')" % (name, mail, hashed))
    uid = int(db.scalar("SELECT id FROM users WHERE email = '%s'" % mail))
    return uid, name, mail


@pytest.mark.parametrize("prefix", ["$2b$", "$2a$", "$2y$"])
def test_seed_bcrypt_hash_logs_in_and_is_upgraded(api, db, prefix):
    password = "seed-pass-" + uuid.uuid4().hex[:8]
    hashed = prefix + bcrypt_hash(password)[4:]
    uid, name, mail = _seed_user(db, hashed)
    # A wrong password fails and leaves the hash alone.
    assert_problem(api.login(mail, "wrong-" + password), 401)
    assert db.scalar("SELECT password FROM users WHERE id = %d" % uid) == hashed
    r = api.login(mail, password)
    assert r.status_code == 200, r.text
    assert r.json()["user_id"] == uid
    stored = db.scalar("SELECT password FROM users WHERE id = %d" % uid)
    assert stored.startswith("$argon2id$"), stored
    again = api.login(name, password, field="login")
    assert again.status_code == 200
    assert_problem(api.login(mail, "wrong-" + password), 401)
    got = api.s.get("/user/%d" % uid, headers=bearer(again.json()["token"]))
    assert got.status_code == 200
    assert (got.json()["role"], got.json()["real_name"]) == ("user", "Seed User")
    assert db.scalar("SELECT password FROM users WHERE id = %d" % uid) == stored


def test_seed_row_without_a_password_never_logs_in(api, db):
    uid, name, mail = _seed_user(db, "")
    for pw in ("", "anything-at-all", PASSWORD):
        assert api.login(mail, pw).status_code in (401, 422)
    assert db.scalar("SELECT password FROM users WHERE id = %d" % uid) == ""


# --- Changing the address or the password, and what it revokes -------------

def _plant_reset_token(db, user):
    """An outstanding reset token for user, stored as the service stores one
    (only its SHA-256); returns the raw token."""
    raw = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
    digest = hashlib.sha256(raw.encode()).hexdigest()
    db.execute("INSERT INTO password_resets (created_at, updated_at, token, email, verify, "
               "user_id, expires_at) VALUES (NOW(3), NOW(3), '%s', '%s', 0, %d, "
               "NOW(3) + INTERVAL 1 HOUR)" % (digest, user["email"], int(user["id"])))
    return raw


def _reset_with(api, token):
    return api.s.post("/password/reset", json={"token": token, "password": "taken-over-123"})


def test_email_change_needs_the_current_password(api, db):
    me = api.register()
    new_mail = uniq("mv") + "@example.test"
    h = bearer(me["token"])
    body = assert_problem(api.s.patch("/user/%d" % me["id"], json={"email": new_mail},
                                      headers=h), 422)
    assert set(body["errors"]) == {"current_password"}
    body = assert_problem(api.s.patch("/user/%d" % me["id"],
                                      json={"email": new_mail, "current_password": "wrong-pass-1"},
                                      headers=h), 422)
    assert set(body["errors"]) == {"current_password"}
    assert db.scalar("SELECT email FROM users WHERE id = %d" % me["id"]) == me["email"]
    r = api.s.patch("/user/%d" % me["id"], json={"email": new_mail, "current_password": PASSWORD},
                    headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["email"] == new_mail


def test_password_change_revokes_outstanding_reset_links(api, db):
    me = api.register()
    token = _plant_reset_token(db, me)
    r = api.s.patch("/user/%d" % me["id"], json={"password": "brand-new-pass-1",
                                                 "current_password": PASSWORD},
                    headers=bearer(me["token"]))
    assert r.status_code == 200, r.text
    body = assert_problem(_reset_with(api, token), 400)
    assert set(body["errors"]) == {"token"}
    assert api.login(me["email"], "brand-new-pass-1").status_code == 200


def test_email_change_revokes_outstanding_reset_links(api, db):
    me = api.register()
    token = _plant_reset_token(db, me)
    r = api.s.patch("/user/%d" % me["id"], json={"email": uniq("mv") + "@example.test",
                                                 "current_password": PASSWORD},
                    headers=bearer(me["token"]))
    assert r.status_code == 200, r.text
    assert_problem(_reset_with(api, token), 400)
    assert api.login(r.json()["email"], PASSWORD).status_code == 200


def test_reset_link_sent_to_an_old_address_is_dead(api, db):
    """Even a token the revocation missed (written with the old address)
    cannot be used once the account's address changed."""
    me = api.register()
    token = _plant_reset_token(db, me)
    db.execute("UPDATE users SET email = '%s' WHERE id = %d" % (uniq("mv") + "@example.test",
                                                              int(me["id"])))
    assert_problem(_reset_with(api, token), 400)


def test_wrong_current_passwords_are_throttled_like_logins(api, stack):
    me = api.register()
    lim = int(stack.get("THROTTLE_LOGIN_ACCOUNT", "10"))
    h = bearer(me["token"])
    for i in range(lim):
        r = api.s.patch("/user/%d" % me["id"], json={"password": "brand-new-pass-1",
                                                     "current_password": "wrong-%03d-x" % i},
                        headers=h)
        assert r.status_code == 422, r.text
    r = api.s.patch("/user/%d" % me["id"], json={"password": "brand-new-pass-1",
                                                 "current_password": PASSWORD}, headers=h)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
