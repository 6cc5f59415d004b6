"""Helpers for the browser tests: a Chromium wrapper and the sink's mail folder.

Imported by conftest.py and the tests (pytest puts tests/e2e on sys.path).
"""

import email
import email.policy
import re
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

from selenium import webdriver
from selenium.common.exceptions import (StaleElementReferenceException, TimeoutException,
                                        WebDriverException)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "build" / "test-output" / "e2e"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PAGE_TIMEOUT = 15
MAIL_TIMEOUT = 20
TOKEN_RE = r"[A-Za-z0-9_-]{43}"


def wait_until(predicate, timeout, interval=0.1, what="condition"):
    """Poll predicate() until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(interval)


def unique(prefix="e2e"):
    """A short unique tag: user names allow 3-32 of [A-Za-z0-9_.-]."""
    return "%s_%s" % (prefix, uuid.uuid4().hex[:16])


class Browser:
    """One headless Chromium with helpers for pages and forms.

    Every page it lands on through open() or submit() is checked to have
    loaded nothing from another origin than the stack's, and to have left
    no error in the console.
    """

    def __init__(self, base_url, profile, lang="en", width=1280, height=900):
        self.base_url = base_url
        self.lang = lang
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run",
                    "--disable-extensions", "--disable-default-apps",
                    "--window-size=%d,%d" % (width, height),
                    "--lang=%s" % lang, "--user-data-dir=%s" % profile):
            opts.add_argument(arg)
        accept = {"en": "en-US,en", "zh-CN": "zh-CN,zh"}.get(lang, lang)
        opts.add_experimental_option("prefs", {"intl.accept_languages": accept})
        self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        self.driver.set_page_load_timeout(PAGE_TIMEOUT)
        self.origins_seen = set()

    # ------------------------------------------------------------ pages

    def url(self, path):
        return path if "://" in path else self.base_url + path

    def open(self, path):
        self.driver.get(self.url(path))
        self._loaded()
        return self

    def _loaded(self):
        def complete(d):
            try:
                return d.execute_script("return document.readyState") == "complete"
            except WebDriverException:          # the page is still being swapped
                return False
        WebDriverWait(self.driver, PAGE_TIMEOUT).until(complete)
        self.check_same_origin()
        self.check_console()

    def check_console(self):
        """No errors in the console: a CSP violation (an inline style or
        script the policy blocks) or a resource that failed to load would
        show up there. Not counted: the page's own status (a 4xx page is
        meant) and the browser's own /favicon.ico probe."""
        page = self.driver.current_url.split("#")[0]
        errors = []
        for e in self.driver.get_log("browser"):
            msg = e["message"]
            if e["level"] != "SEVERE":
                continue
            if e.get("source") == "network" and (
                    msg.startswith(page + " ") or "/favicon.ico " in msg):
                continue
            errors.append(msg)
        assert not errors, "console errors on %s: %s" % (page, errors)

    def check_same_origin(self):
        """Every navigation and resource entry of this page is on the stack."""
        names = self.driver.execute_script(
            "return performance.getEntries()"
            ".filter(e => e.entryType === 'navigation' || e.entryType === 'resource')"
            ".map(e => e.name)")
        all_names = self.driver.execute_script(
            "return performance.getEntries().map(e => e.name)")
        assert names, "no performance entries on %s" % self.driver.current_url
        urls = [n for n in all_names if "://" in n]
        foreign = [n for n in set(names) | set(urls)
                   if not n.startswith(self.base_url + "/")]
        assert not foreign, "%s loaded from elsewhere: %s" % (self.driver.current_url, foreign)
        self.origins_seen.update(urlsplit(n).netloc for n in names)
        return names

    @property
    def path(self):
        parts = urlsplit(self.driver.current_url)
        return parts.path + ("?" + parts.query if parts.query else "")

    def h1(self):
        """The page's heading; without one, what the page shows instead."""
        found = self.driver.find_elements(By.TAG_NAME, "h1")
        if found:
            return found[0].text
        return "(no h1 on %s: %r)" % (self.path, self.text()[:200])

    def text(self):
        return self.driver.find_element(By.TAG_NAME, "body").text

    def title(self):
        return self.driver.title

    def html_lang(self):
        return self.driver.find_element(By.TAG_NAME, "html").get_attribute("lang")

    def notice(self):
        found = self.driver.find_elements(By.CSS_SELECTOR, "p.notice")
        return found[0].text if found else None

    def field_error(self, field_id):
        """The error shown beside a field (the element aria-describedby names)."""
        found = self.driver.find_elements(By.ID, field_id + "-error")
        return found[0].text if found else None

    # ------------------------------------------------------------ forms

    def fill(self, **fields):
        for name, value in fields.items():
            box = self.driver.find_element(By.ID, name)
            box.clear()
            box.send_keys(value)
        return self

    def form(self, action):
        return self.driver.find_element(By.CSS_SELECTOR, 'form[action="%s"]' % action)

    def submit(self, action="", **fields):
        """Fill fields, click the submit button of the form posting to action
        (the only form when ""), and wait for the next page."""
        self.fill(**fields)
        form = (self.form(action) if action
                else self.driver.find_element(By.TAG_NAME, "form"))
        self.click_and_wait(form.find_element(By.CSS_SELECTOR, 'button[type="submit"]'))
        return self

    def click_and_wait(self, element):
        old = self.driver.find_element(By.TAG_NAME, "html")
        element.click()

        def old_page_gone(_):
            # Mid-navigation the old node may be reported stale or as "not
            # belonging to the document": either way that page is gone.
            try:
                old.is_enabled()
                return False
            except (StaleElementReferenceException, WebDriverException):
                return True
        try:
            WebDriverWait(self.driver, PAGE_TIMEOUT).until(old_page_gone)
        except TimeoutException:
            raise AssertionError("no new page after the click on %s (still %s)"
                                 % (element.text or element.tag_name, self.driver.current_url))
        self._loaded()

    def follow(self, link_text):
        """Click a link by its visible text, as a person would."""
        self.click_and_wait(self.driver.find_element(By.LINK_TEXT, link_text))
        return self

    def drop_csrf(self, action="", value=None):
        """Remove (or, with value, overwrite) the form's hidden csrf input."""
        form = (self.form(action) if action
                else self.driver.find_element(By.TAG_NAME, "form"))
        if value is None:
            self.driver.execute_script(
                "arguments[0].querySelector('input[name=csrf]').remove()", form)
            assert not form.find_elements(By.CSS_SELECTOR, "input[name=csrf]")
        else:
            self.driver.execute_script(
                "arguments[0].querySelector('input[name=csrf]').value = arguments[1]",
                form, value)
        return form

    def no_validate(self):
        """Turn off the browser's own checks, to see the server's errors."""
        self.driver.execute_script(
            "document.querySelectorAll('form').forEach(f => f.noValidate = true)")

    def cookie(self, name):
        return self.driver.get_cookie(name)

    # ------------------------------------------------------------ size and pictures

    def emulate_phone(self, width=375, height=812):
        """A phone-sized viewport (headless windows cannot be under 500 px)."""
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": True})
        self.phone = (width, height)

    def screenshot(self, path, full_page=False):
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if full_page and getattr(self, "phone", None):
            width, height = self.phone
            content = self.driver.execute_script(
                "return document.documentElement.scrollHeight")
            self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": width, "height": max(height, content),
                "deviceScaleFactor": 1, "mobile": True})
            try:
                self.driver.save_screenshot(str(path))
            finally:
                self.emulate_phone(width, height)
        else:
            self.driver.save_screenshot(str(path))

    def quit(self):
        self.driver.quit()


class MailDir:
    """The SMTP sink's folder (one .eml per message)."""

    def __init__(self, mail_dir, base_url):
        self.dir = Path(mail_dir)
        self.base_url = base_url

    def messages_for(self, addr):
        """Messages to addr, newest first (by arrival time, then name)."""
        found = []
        needle = addr.lower().encode()
        for path in self.dir.glob("*.eml"):
            try:
                data = path.read_bytes()
                stamp = path.stat().st_mtime_ns
            except FileNotFoundError:
                continue
            if needle not in data.lower():
                continue
            msg = email.message_from_bytes(data, policy=email.policy.default)
            rcpt = " ".join(str(msg.get(h, "")) for h in ("To", "X-Sink-Rcpt-To"))
            if addr.lower() in rcpt.lower():
                msg.path = path
                found.append((stamp, path.name, msg))
        return [m for _, _, m in sorted(found, key=lambda t: t[:2], reverse=True)]

    @staticmethod
    def text_of(msg):
        part = msg.get_body(preferencelist=("plain",))
        assert part is not None, "no text/plain part in %s" % msg.path
        return part.get_content()

    def reset_link(self, msg):
        m = re.search(r"(https?://\S+?/password/reset\?token=%s)" % TOKEN_RE, self.text_of(msg))
        assert m, "no reset link in the text part of %s:\n%s" % (msg.path, self.text_of(msg))
        return m.group(1)

    def find_reset(self, addr, after=0, timeout=MAIL_TIMEOUT):
        """(message, link) of the newest reset email to addr, waiting for
        one more than `after` (the count of reset emails seen before)."""
        def newest():
            resets = [m for m in self.messages_for(addr)
                      if "/password/reset?token=" in self.text_of(m)]
            return resets[0] if len(resets) > after else None
        msg = wait_until(newest, timeout, interval=0.2,
                         what="a reset email to %s in %s" % (addr, self.dir))
        link = self.reset_link(msg)
        assert link.startswith(self.base_url + "/password/reset?token="), link
        return msg, link

    def count_resets(self, addr):
        return sum(1 for m in self.messages_for(addr)
                   if "/password/reset?token=" in self.text_of(m))


def ask_reset_by_api(http, addr):
    """POST /password/forgot as JSON (no browser needed to get a link)."""
    r = http().post("/password/forgot", json={"email": addr})
    assert r.status_code == 202, r.text
