"""The password reset as a person does it: the forgot form, the email in the
sink's folder, the link, the new password, signing in (headless Chromium)."""

import pytest

from browser_kit import ask_reset_by_api

# What each page says, per language (templates/locale/*.json).
TEXT = {
    "en": {
        "login": "Sign in",
        "forgot_link": "Forgot your password?",
        "forgot": "Forgot your password?",
        "sent": "Check your email",
        "sent_body": "we have sent it a link to choose a new password",
        "reset": "Choose a new password",
        "mismatch": "The two passwords are not the same.",
        "too_short": "Use 8 to 128 characters.",
        "done": "Your password was changed",
        "done_body": "You can now sign in with your new password.",
        "sign_in_link": "Sign in",
        "account": "Your account",
        "invalid": "This link cannot be used",
        "invalid_again": "Ask for a new link",
        "subject": "Reset your password",
        "mail_intro": "Open this link to choose a new password",
    },
    "zh-CN": {
        "login": "登录",
        "forgot_link": "忘记密码？",
        "forgot": "忘记密码？",
        "sent": "请查收邮件",
        "sent_body": "我们已向它发送了设置新密码的链接",
        "reset": "设置新密码",
        "mismatch": "两次输入的密码不一致。",
        "too_short": "请使用 8 到 128 个字符。",
        "done": "密码已更改",
        "done_body": "现在您可以使用新密码登录。",
        "sign_in_link": "登录",
        "account": "我的账户",
        "invalid": "此链接无法使用",
        "invalid_again": "申请新链接",
        "subject": "重置您的密码",
        "mail_intro": "请打开下面的链接设置新密码",
    },
}


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_reset_password_from_the_email_link(lang, browser, http, mail, new_user):
    t = TEXT[lang]
    user = new_user()
    b = browser(lang=lang)

    # From the sign-in page to the forgot form, then "check your email".
    b.open("/user/login")
    assert b.html_lang() == lang
    assert b.h1() == t["login"]
    b.follow(t["forgot_link"])
    assert b.path == "/password/forgot"
    assert b.h1() == t["forgot"]
    b.submit("/password/forgot", email=user["email"])
    assert b.path == "/password/forgot/sent"
    assert b.h1() == t["sent"]
    assert t["sent_body"] in b.text()
    assert b.html_lang() == lang

    # The newest email to that address, in the browser's language.
    msg, link = mail.find_reset(user["email"])
    assert str(msg["Subject"]) == t["subject"]
    assert t["mail_intro"] in mail.text_of(msg)

    # The link moves the token into a cookie and out of the address bar.
    b.open(link)
    assert b.path == "/password/reset"
    assert "token" not in b.driver.current_url
    assert b.h1() == t["reset"]
    assert b.html_lang() == lang

    # Two different passwords: the error is beside the second box.
    b.submit("/password/reset", password="New-pass-456", password_confirm="New-pass-789")
    assert b.path == "/password/reset"
    assert b.h1() == t["reset"]
    assert b.field_error("password_confirm") == t["mismatch"]
    assert b.driver.find_element("id", "password").get_attribute("value") == ""

    # The same new password twice: the success page.
    b.submit("/password/reset", password="New-pass-456", password_confirm="New-pass-456")
    assert b.path == "/password/reset/done"
    assert b.h1() == t["done"]
    assert t["done_body"] in b.text()
    assert b.cookie("reset_token") is None

    # Sign in with the new password.
    b.follow(t["sign_in_link"])
    assert b.path == "/user/login"
    b.submit("/user/login", login=user["email"], password="New-pass-456")
    assert b.path == "/user/account"
    assert b.h1() == t["account"]
    assert user["email"] in b.text()

    # The old password no longer works; the new one does (JSON API).
    assert http().post("/user/token", json={"email": user["email"],
                                           "password": user["password"]}).status_code == 401
    assert http().post("/user/token", json={"email": user["email"],
                                           "password": "New-pass-456"}).status_code == 200


def test_used_link_shows_the_invalid_page(browser, http, mail, new_user):
    user = new_user()
    ask_reset_by_api(http, user["email"])
    _, link = mail.find_reset(user["email"])

    b = browser()
    b.open(link)
    b.submit("/password/reset", password="Used-pass-123", password_confirm="Used-pass-123")
    assert b.h1() == TEXT["en"]["done"]

    # The same link again, in the same browser: it cannot be used.
    b.open(link)
    assert b.path == "/password/reset"
    assert b.h1() == TEXT["en"]["invalid"]
    assert "already used, or has expired" in b.text()
    assert not b.driver.find_elements("css selector", "form")

    # The page offers a new link, which leads to the forgot form.
    b.follow(TEXT["en"]["invalid_again"])
    assert b.path == "/password/forgot"

    # A fresh browser (say, the link opened on a phone) gets the same page,
    # and it is a 410 to clients that can see the status.
    other = browser()
    other.open(link)
    assert other.h1() == TEXT["en"]["invalid"]
    s = http()
    r = s.get(link, allow_redirects=True)
    assert r.status_code == 410
    assert TEXT["en"]["invalid"] in r.text

    # The password is the one set through the link.
    assert http().post("/user/token", json={"email": user["email"],
                                           "password": "Used-pass-123"}).status_code == 200
