"""Every page at a phone's width (375 px): nothing wider than the screen,
nothing from another host, and a full-page picture of each for a person to
look at (build/test-output/e2e/<test>-<page>.png)."""

import pytest

from browser_kit import ask_reset_by_api, unique

PHONE_WIDTH = 375

# Scripts run in the page: does anything stick out sideways?
OVERFLOW_JS = """
const w = document.documentElement.clientWidth;
const out = [];
if (document.documentElement.scrollWidth > w)
    out.push('page scrolls sideways: ' + document.documentElement.scrollWidth + ' > ' + w);
for (const el of document.querySelectorAll('h1, h2, p, label, input:not([type=hidden]), button, a, dd, dt')) {
    if (el.hidden) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.left < 0 || r.right > w + 0.5)
        out.push(el.tagName + (el.id ? '#' + el.id : '') + ' spans ' +
                 Math.round(r.left) + '..' + Math.round(r.right));
}
return out;
"""


def look(b, shots, test, page, problems):
    """Check the page at phone width and save its full-page picture."""
    width = b.driver.execute_script("return document.documentElement.clientWidth")
    assert width <= PHONE_WIDTH, "viewport is %d px wide" % width
    for p in b.driver.execute_script(OVERFLOW_JS):
        problems.append("%s: %s" % (page, p))
    # Text is not shrunk below a readable size.
    small = b.driver.execute_script(
        "return [...document.querySelectorAll('p, label, input, button, a, dd')]"
        ".filter(e => !e.hidden && e.offsetParent !== null)"
        ".map(e => parseFloat(getComputedStyle(e).fontSize)).filter(s => s < 13)")
    if small:
        problems.append("%s: text at %s px" % (page, sorted(set(small))))
    # Every field a person can see has a label (or an accessible name).
    unlabelled = b.driver.execute_script(
        "return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]"
        ".filter(e => !e.hidden && !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))"
        ".map(e => e.name || e.id)")
    if unlabelled:
        problems.append("%s: fields without a label: %s" % (page, unlabelled))
    if b.html_lang() != b.lang:
        problems.append("%s: <html lang=%r>" % (page, b.html_lang()))
    b.screenshot(shots / ("%s-%s.png" % (test, page)), full_page=True)


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_pages_at_phone_width(lang, browser, http, mail, new_user, shots, base_url):
    test = "test_pages_at_phone_width_%s" % lang
    problems = []
    user = new_user()
    b = browser(lang=lang)
    b.emulate_phone(PHONE_WIDTH, 740)

    b.open("/user/login")
    look(b, shots, test, "login", problems)

    # The register form with the server's errors beside the fields.
    b.open("/user/register")
    b.no_validate()
    b.submit("/user/register", name="x", email="not-an-address",
             password="short", real_name="")
    assert b.field_error("name") and b.field_error("email") and b.field_error("password")
    look(b, shots, test, "register-errors", problems)

    b.open("/password/forgot")
    look(b, shots, test, "forgot", problems)
    b.submit("/password/forgot", email="%s@example.test" % unique("nobody").replace("_", "-"))
    assert b.path == "/password/forgot/sent"
    look(b, shots, test, "sent", problems)

    ask_reset_by_api(http, user["email"])
    _, link = mail.find_reset(user["email"])
    b.open(link)
    b.no_validate()
    b.submit("/password/reset", password="short", password_confirm="other")
    assert b.field_error("password")
    look(b, shots, test, "reset-errors", problems)
    b.submit("/password/reset", password="Phone-pass-123", password_confirm="Phone-pass-123")
    assert b.path == "/password/reset/done"
    look(b, shots, test, "done", problems)

    b.open(link)
    assert b.path == "/password/reset"
    look(b, shots, test, "invalid", problems)

    b.open("/user/login")
    b.submit("/user/login", login=user["email"], password="Phone-pass-123")
    assert b.path == "/user/account"
    look(b, shots, test, "account", problems)

    b.drop_csrf("/user/logout")
    b.submit("/user/logout")
    look(b, shots, test, "403", problems)

    # Every page and resource came from the stack itself.
    assert b.origins_seen == {base_url.split("://", 1)[1]}
    b.open("/user/account")                 # the test's own picture: the account page
    assert not problems, "\n".join(problems)


def test_unknown_page_is_the_error_page(browser):
    b = browser()
    for path in ("/password/nope", "/user/nope/more"):
        b.open(path)
        assert b.h1() == "Page not found"
        assert "Error 404" in b.text()
        assert b.html_lang() == "en"
