"""Forms refuse a missing or wrong CSRF token (in the browser), the headers a
browser relies on without showing them (over HTTP), and the language cookie."""

import re

import pytest

from browser_kit import ask_reset_by_api, unique

FORBIDDEN = {"en": ("Forbidden", "Error 403"), "zh-CN": ("禁止访问", "错误代码 403")}


def assert_refused(b, lang="en"):
    """The page that says a form was refused for its CSRF token."""
    title, status = FORBIDDEN[lang]
    assert b.h1() == title, b.text()
    assert b.title().startswith(title)
    text = b.text()
    assert status in text
    if lang == "en":
        assert re.search(r"form (has )?expired", text), text
    assert b.html_lang() == lang


def sign_in(b, user):
    b.open("/user/login")
    b.submit("/user/login", login=user["email"], password=user["password"])
    assert b.path == "/user/account"


# ------------------------------------------------------------------ CSRF

def test_signed_out_forms_without_csrf_are_refused(browser, http, new_user):
    """Sign in and register, each posted without its hidden token."""
    user = new_user()
    b = browser()
    b.open("/user/login")
    b.fill(login=user["email"], password=user["password"])
    b.drop_csrf("/user/login")
    b.submit("/user/login")
    assert_refused(b)
    assert b.cookie("session") is None

    tag = unique("csrf")
    addr = "%s@example.test" % tag.replace("_", "-")
    b.open("/user/register")
    b.fill(name=tag, email=addr, password="Csrf-pass-123")
    b.drop_csrf("/user/register")
    b.submit("/user/register")
    assert_refused(b)
    # No account was made.
    r = http().post("/user/token", json={"email": addr, "password": "Csrf-pass-123"})
    assert r.status_code == 401, r.text


def test_forgot_without_or_with_a_wrong_csrf_is_refused(browser, mail, new_user):
    user = new_user()
    b = browser()
    for wrong in (None, "x" * 32):
        b.open("/password/forgot")
        b.fill(email=user["email"])
        b.drop_csrf("/password/forgot", value=wrong)
        b.submit("/password/forgot")
        assert_refused(b)
        assert b.path == "/password/forgot"
    # The real form still works, and only it sends an email (a refused
    # request would be queued before it and count against the address).
    b.open("/password/forgot")
    b.submit("/password/forgot", email=user["email"])
    assert b.path == "/password/forgot/sent"
    mail.find_reset(user["email"])
    assert mail.count_resets(user["email"]) == 1


def test_reset_form_without_csrf_is_refused_and_the_link_still_works(
        browser, http, mail, new_user):
    user = new_user()
    ask_reset_by_api(http, user["email"])
    _, link = mail.find_reset(user["email"])
    b = browser()
    b.open(link)
    b.fill(password="Csrf-new-123", password_confirm="Csrf-new-123")
    b.drop_csrf("/password/reset")
    b.submit("/password/reset")
    assert_refused(b)
    # Nothing changed: the old password works, and the link still does.
    assert http().post("/user/token", json={"email": user["email"],
                                           "password": user["password"]}).status_code == 200
    b.open(link)
    b.submit("/password/reset", password="Csrf-new-123", password_confirm="Csrf-new-123")
    assert b.path == "/password/reset/done"


def test_signed_in_forms_without_csrf_are_refused(browser, http, new_user):
    """Profile, password change and sign out, each without its token."""
    user = new_user()
    b = browser()
    sign_in(b, user)

    b.fill(real_name="Not Saved")
    b.drop_csrf("/user/account")
    b.submit("/user/account")
    assert_refused(b)

    b.open("/user/account")
    b.fill(current_password=user["password"], password="Csrf-other-123")
    b.drop_csrf("/user/account/password")
    b.submit("/user/account/password")
    assert_refused(b)

    b.open("/user/account")
    b.drop_csrf("/user/logout")
    b.submit("/user/logout")
    assert_refused(b)

    # Still signed in, nothing changed.
    assert b.cookie("session") is not None
    b.open("/user/account")
    assert b.path == "/user/account"
    assert "Not Saved" not in b.text()
    assert http().post("/user/token", json={"email": user["email"],
                                           "password": user["password"]}).status_code == 200


def test_csrf_refusal_speaks_chinese(browser, new_user):
    """The refusal page of a pages.c form is in the browser's language."""
    user = new_user()
    b = browser(lang="zh-CN")
    b.open("/user/login")
    b.fill(login=user["email"], password=user["password"])
    b.drop_csrf("/user/login")
    b.submit("/user/login")
    assert_refused(b, "zh-CN")
    assert "表单已过期" in b.text()


def test_forgot_csrf_refusal_speaks_chinese(browser, new_user):
    user = new_user()
    b = browser(lang="zh-CN")
    b.open("/password/forgot")
    b.fill(email=user["email"])
    b.drop_csrf("/password/forgot")
    b.submit("/password/forgot")
    assert_refused(b, "zh-CN")
    assert "This form" not in b.text()


# ------------------------------------------------------------------ headers

def header_values(resp, name):
    """Every value of a header, comma lists split, as sent."""
    return [v.strip() for line in resp.raw.headers.getlist(name) for v in line.split(",")
            if v.strip()]


def csrf_of(page):
    m = re.search(r'name="csrf" value="([^"]+)"', page)
    assert m, "no csrf field"
    return m.group(1)


def test_headers_of_every_page(http, mail, new_user):
    """CSP without inline script, no framing, nosniff on every page; on the
    reset pages (and their redirects) no Referer and no caching."""
    user = new_user()
    s = http()
    seen = {}

    def get(label, path, **kw):
        seen[label] = s.get(path, allow_redirects=False, **kw)
        return seen[label]

    def post(label, path, data):
        data = dict(data, csrf=csrf_of(page.text))
        seen[label] = s.post(path, data=data, allow_redirects=False)
        return seen[label]

    get("register", "/user/register")
    page = get("forgot", "/password/forgot")
    assert post("POST forgot", "/password/forgot", {"email": user["email"]}).status_code == 303
    get("sent", "/password/forgot/sent")
    _, link = mail.find_reset(user["email"])
    assert get("reset link", link).status_code == 303
    page = get("reset form", "/password/reset")
    assert page.status_code == 200
    assert post("POST reset (mismatch)", "/password/reset",
                {"password": "Head-new-123", "password_confirm": "Head-new-456"}).status_code == 422
    assert post("POST reset", "/password/reset",
                {"password": "Head-new-123", "password_confirm": "Head-new-123"}).status_code == 303
    get("done", "/password/reset/done")
    assert get("reset form, used", "/password/reset").status_code == 410
    assert get("reset link, used", link).status_code in (303, 410)
    page = get("login", "/user/login")
    assert post("POST login", "/user/login",
                {"login": user["email"], "password": "Head-new-123"}).status_code == 303
    assert get("account", "/user/account").status_code == 200
    seen["POST logout without csrf"] = s.post("/user/logout", data={}, allow_redirects=False)
    assert seen["POST logout without csrf"].status_code == 403

    problems = []
    for label, r in seen.items():
        ctype = r.headers.get("Content-Type", "")
        if ctype.startswith("text/html"):
            csp = "; ".join(r.raw.headers.getlist("Content-Security-Policy"))
            directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
            if not csp:
                problems.append("%s: no Content-Security-Policy" % label)
            elif "'unsafe-inline'" in csp or "'unsafe-eval'" in csp:
                problems.append("%s: CSP allows inline script or eval: %s" % (label, csp))
            elif "script-src" not in directives and "default-src" not in directives:
                problems.append("%s: CSP does not restrict scripts: %s" % (label, csp))
            if header_values(r, "X-Frame-Options") != ["DENY"]:
                problems.append("%s: X-Frame-Options %s" % (
                    label, header_values(r, "X-Frame-Options")))
            if header_values(r, "X-Content-Type-Options") != ["nosniff"]:
                problems.append("%s: X-Content-Type-Options %s" % (
                    label, header_values(r, "X-Content-Type-Options")))
        path = r.request.path_url
        if path.startswith("/password/reset"):
            referrer = header_values(r, "Referrer-Policy")
            cache = header_values(r, "Cache-Control")
            if not referrer or set(referrer) != {"no-referrer"}:
                problems.append("%s (%s): Referrer-Policy %s" % (label, r.status_code, referrer))
            if "no-store" not in cache:
                problems.append("%s (%s): Cache-Control %s" % (label, r.status_code, cache))
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------ language

def test_language_cookie_overrides_accept_language(browser):
    b = browser(lang="en")
    b.open("/password/forgot")
    assert b.html_lang() == "en"
    assert b.h1() == "Forgot your password?"

    b.open("/user/locale?lang=zh-CN&next=/password/forgot")
    assert b.path == "/password/forgot"
    assert b.html_lang() == "zh-CN"
    assert b.h1() == "忘记密码？"
    assert b.cookie("lang")["value"] == "zh-CN"
    b.follow("返回登录")
    assert b.h1() == "登录"

    # Only paths on this site: anything else goes to the sign-in page.
    b.open("/user/locale?lang=en&next=//elsewhere.example/")
    assert b.path == "/user/login"
    assert b.html_lang() == "en"
    assert b.h1() == "Sign in"
