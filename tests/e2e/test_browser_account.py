"""A person makes an account, signs in, sees it, and signs out (headless Chromium)."""

from browser_kit import unique


def test_register_login_account_logout(browser, http):
    tag = unique("reg")
    name, addr, password = tag, "%s@example.test" % tag.replace("_", "-"), "First-pass-123"
    b = browser()

    # The sign-in page offers registration; the form creates the account.
    b.open("/user/login")
    assert b.h1() == "Sign in"
    assert b.html_lang() == "en"
    b.follow("Create an account")
    assert b.path == "/user/register"
    assert b.h1() == "Create an account"
    b.submit("/user/register", name=name, email=addr, password=password,
             real_name="Ada Lovelace")
    assert b.path == "/user/login?notice=registered"
    assert b.notice() == "Welcome! Your account is ready."

    # A wrong password is refused on the page, the login kept in its box.
    b.submit("/user/login", login=addr, password="Not-the-password")
    assert b.h1() == "Sign in"
    assert "The email address, user name or password is not correct." in b.text()
    assert b.driver.find_element("id", "login").get_attribute("value") == addr
    assert b.cookie("session") is None

    # The right one leads to the account page, by user name this time.
    b.submit("/user/login", login=name, password=password)
    assert b.path == "/user/account"
    assert b.h1() == "Your account"
    page = b.text()
    for shown in (name, addr, "Ada Lovelace"):
        assert shown in page

    # The session is a cookie scripts cannot read, sent only to this site.
    session = b.cookie("session")
    assert session is not None and session["value"]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Strict"
    assert session["secure"] is False            # COOKIE_SECURE=0 on the test stack
    assert "session=" not in b.driver.execute_script("return document.cookie")

    # The profile form saves, and the page says so.
    b.submit("/user/account", real_name="Augusta Ada King")
    assert b.path == "/user/account?notice=profile_saved"
    assert b.notice() == "Your profile was saved."
    assert "Augusta Ada King" in b.text()

    # Sign out: the cookie is gone and the account page sends one to sign in.
    b.submit("/user/logout")
    assert b.path == "/user/login?notice=signed_out"
    assert b.notice() == "You are signed out."
    assert b.cookie("session") is None
    b.open("/user/account")
    assert b.path == "/user/login"
    assert b.h1() == "Sign in"

    # The account really exists with that password (JSON API).
    r = http().post("/user/token", json={"email": addr, "password": password})
    assert r.status_code == 200, r.text
