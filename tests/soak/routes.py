"""Requests that walk every route of user-fcgi once (the JSON API, the
pages with their CSRF forms, the reset flow by email), with good and bad
input; the request patterns of tests/integration. Used by make valgrind
(one tour) and make soak (tours mixed into its load).

tour(base_url, mail, admin_token, check) calls check(step, expected
statuses, response) for each request; an exception means no answer.
"""

import uuid

from stackrun import Client, bearer, csrf_of, new_identity

HTML = {"Accept": "text/html"}
JSON = {"Content-Type": "application/json"}


def tour(base_url, mail, admin_token, check):
    c = Client(base_url)
    u = new_identity("tour")

    # ------------------------------------------------------------ JSON API
    r = check("register", {201}, c.post("/user", json=dict(u, real_name="Tour Ärger 名前")))
    uid = r.json()["id"] if r.status_code == 201 else 0
    check("register invalid", {422}, c.post("/user", json={"name": "x y", "email": "nope",
                                                           "password": "short"}))
    check("register duplicate", {409}, c.post("/user", json=u))
    check("register malformed json", {400}, c.post("/user", data=b'{"name": ', headers=JSON))
    check("register nested json", {400, 422}, c.post("/user", data=b"[" * 500 + b"]" * 500,
                                                     headers=JSON))
    check("register over the limit", {413}, c.post("/user", data=b"{" + b" " * 70000 + b"}",
                                                   headers=JSON))
    check("register form type", {415, 422, 400}, c.post("/user", data=b"<x/>",
                                                        headers={"Content-Type": "text/xml"}))
    check("register invalid utf-8", {400, 422}, c.post(
        "/user", data=b'{"name": "\xff\xfe", "email": "a@b.test", "password": "Xx-123456"}',
        headers=JSON))
    check("login wrong password", {401}, c.post("/user/token", json={"email": u["email"],
                                                                     "password": "Wrong-pass-1"}))
    check("login missing field", {422}, c.post("/user/token", json={"email": u["email"]}))
    r = check("login", {200}, c.post("/user/token", json={"email": u["email"],
                                                          "password": u["password"]}))
    tok = r.json().get("token", "") if r.status_code == 200 else ""
    r = check("login by name", {200}, c.post("/user/token", json={"login": u["name"],
                                                                  "password": u["password"]}))
    check("validate token", {200}, c.get("/user/token", headers=bearer(tok)))
    check("validate no token", {401}, c.get("/user/token"))
    check("validate forged token", {401}, c.get("/user/token", headers=bearer(
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.AAAA")))
    check("get self", {200}, c.get("/user/%d" % uid, headers=bearer(tok)))
    check("head self", {200}, c.head("/user/%d" % uid, headers=bearer(tok)))
    check("get without token", {401}, c.get("/user/%d" % uid))
    check("get other", {403, 404}, c.get("/user/%d" % (uid + 1000000), headers=bearer(tok)))
    check("put self", {200}, c.put("/user/%d" % uid, headers=bearer(tok),
                                   json={"real_name": "Tour Put", "avatar": ""}))
    check("patch self", {200}, c.patch("/user/%d" % uid, headers=bearer(tok),
                                       json={"real_name": "Tour Patch 名前",
                                             "avatar": "https://example.test/a.png"}))
    check("patch invalid", {422}, c.patch("/user/%d" % uid, headers=bearer(tok),
                                          json={"email": "not-an-address", "name": 5}))
    check("patch role as user", {403, 422}, c.patch("/user/%d" % uid, headers=bearer(tok),
                                                    json={"role": "admin"}))
    new_pw = "Changed-%s" % uuid.uuid4().hex[:8]
    check("patch password", {200}, c.patch("/user/%d" % uid, headers=bearer(tok),
                                           json={"password": new_pw,
                                                 "current_password": u["password"]}))
    u["password"] = new_pw
    r = check("login again", {200}, c.post("/user/token", json={"email": u["email"],
                                                                "password": u["password"]}))
    tok = r.json().get("token", "") if r.status_code == 200 else ""
    check("list as user", {403}, c.get("/user?page=1&per_page=5", headers=bearer(tok)))
    check("list as admin", {200}, c.get("/user?page=1&per_page=5", headers=bearer(admin_token)))
    check("list perPage", {200}, c.get("/user?page=2&perPage=3", headers=bearer(admin_token)))
    check("list bad page", {400}, c.get("/user?page=-1", headers=bearer(admin_token)))
    check("admin gets user", {200}, c.get("/user/%d" % uid, headers=bearer(admin_token)))
    check("unknown path", {404}, c.get("/user/%d/x" % uid, headers=bearer(tok)))
    check("wrong method", {405}, c.post("/user/%d" % uid, headers=bearer(tok), json={}))
    check("odd path", {404, 400}, c.get("/user/abc", headers=bearer(tok)))

    # ------------------------------------------------------------ reset by JSON
    check("forgot json", {202}, c.post("/user/password", json={"email": u["email"]}))
    check("forgot unknown", {202}, c.post("/password/forgot",
                                          json={"email": "nobody-%s@example.test" %
                                                uuid.uuid4().hex}))
    check("forgot invalid", {422}, c.post("/user/password", json={"email": "x\r\nBcc: y"}))
    token = mail.wait(u["email"])
    check("reset bad token", {400}, c.put("/user/password", json={"token": "A" * 43}))
    check("reset short password", {422}, c.post("/password/reset",
                                                json={"token": token or "A" * 43,
                                                      "password": "short"}))
    r = check("reset with token", {200}, c.put("/user/password", json={"token": token or ""}))
    if r.status_code == 200:
        u["password"] = r.json().get("newPassword", u["password"])
    r = check("login after reset", {200}, c.post("/user/token", json={"email": u["email"],
                                                                      "password": u["password"]}))
    tok = r.json().get("token", "") if r.status_code == 200 else ""

    # ------------------------------------------------------------ pages
    b = Client(base_url)
    b.headers.update(HTML)
    v = new_identity("page")
    r = check("register page", {200}, b.get("/user/register"))
    check("register form", {303}, b.post("/user/register", data=dict(
        v, csrf=csrf_of(r.text), real_name="Page User")))
    check("register form no csrf", {403}, b.post("/user/register", data=new_identity("nc")))
    r = check("login page", {200}, b.get("/user/login"))
    check("login form wrong", {401, 422, 200}, b.post("/user/login", data={
        "csrf": csrf_of(r.text), "login": v["email"], "password": "Wrong-pass-1"}))
    r = check("login page again", {200}, b.get("/user/login"))
    check("login form", {303}, b.post("/user/login", data={
        "csrf": csrf_of(r.text), "login": v["email"], "password": v["password"]}))
    r = check("account page", {200}, b.get("/user/account"))
    r = check("account form", {303}, b.post("/user/account", data={
        "csrf": csrf_of(r.text), "real_name": "Page Renamed", "avatar": ""}))
    r = check("account page again", {200}, b.get("/user/account"))
    v_pw = "Page-new-%s" % uuid.uuid4().hex[:8]
    check("account password form", {303}, b.post("/user/account/password", data={
        "csrf": csrf_of(r.text), "current_password": v["password"], "password": v_pw,
        "password_confirm": v_pw}))
    v["password"] = v_pw
    r = check("account page bad password", {200}, b.get("/user/account"))
    check("account password form wrong", {422, 200}, b.post("/user/account/password", data={
        "csrf": csrf_of(r.text), "current_password": "Wrong-pass-1", "password": "Another-1x",
        "password_confirm": "Another-1x"}))
    check("locale", {303}, b.get("/user/locale?lang=zh-CN&next=/password/forgot"))
    r = check("forgot page zh", {200}, b.get("/password/forgot"))
    check("locale back", {303}, b.get("/user/locale?lang=en&next=/user/login"))
    r = check("forgot page", {200}, b.get("/password/forgot"))
    check("forgot form", {303}, b.post("/password/forgot", data={
        "csrf": csrf_of(r.text), "email": v["email"]}))
    check("forgot sent page", {200}, b.get("/password/forgot/sent"))
    token = mail.wait(v["email"]) or "A" * 43
    check("reset link", {303}, b.get("/password/reset?token=" + token))
    r = check("reset page", {200}, b.get("/password/reset"))
    check("reset form mismatch", {422}, b.post("/password/reset", data={
        "csrf": csrf_of(r.text), "password": "Mismatch-1a", "password_confirm": "Mismatch-2b"}))
    r = check("reset page again", {200}, b.get("/password/reset"))
    v_pw = "Reset-new-%s" % uuid.uuid4().hex[:8]
    check("reset form", {303}, b.post("/password/reset", data={
        "csrf": csrf_of(r.text), "password": v_pw, "password_confirm": v_pw}))
    check("reset done page", {200}, b.get("/password/reset/done"))
    check("reset link malformed", {410}, b.get("/password/reset?token=short"))
    r = check("login page last", {200}, b.get("/user/login"))
    check("login form after reset", {303}, b.post("/user/login", data={
        "csrf": csrf_of(r.text), "login": v["name"], "password": v_pw}))
    r = check("account page last", {200}, b.get("/user/account"))
    check("logout", {303}, b.post("/user/logout", data={"csrf": csrf_of(r.text)}))
    check("account signed out", {303, 401}, b.get("/user/account"))
    b.close()

    # ------------------------------------------------------------ delete
    check("delete self", {204}, c.delete("/user/%d" % uid, headers=bearer(tok)))
    check("get deleted", {401, 404}, c.get("/user/%d" % uid, headers=bearer(tok)))
    c.close()
