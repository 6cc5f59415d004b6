"""Fixtures for the browser tests: headless Chromium against a running stack.

Uses Debian's chromium, chromium-driver and python3-selenium; run with
/usr/bin/python3 -m pytest tests/e2e and STACK_ENV pointing at the stack's
stack.env (scripts/test.sh does both). The stack fixtures (stack, base_url,
http) come from tests/integration/conftest.py. Fixtures here:

  browser       factory: browser(lang="en", width=1280, height=900) -> Browser,
                a fresh Chromium with its own profile; the last page of the
                last one made is saved as build/test-output/e2e/<test>.png
  mail          find_reset(addr) -> (message, link): the newest .eml to addr
  new_user      factory: new_user() -> dict(name, email, password, id), made
                through the JSON API (fast); unique per call
  shots         the screenshot folder (build/test-output/e2e)
"""

import importlib.util
import re
import shutil
import tempfile
import threading

import pytest

from browser_kit import ROOT, SHOTS, Browser, MailDir, unique

# The integration fixtures, loaded by path (tests/ is not a package).
_spec = importlib.util.spec_from_file_location(
    "micro_user_integration_conftest", ROOT / "tests" / "integration" / "conftest.py")
_integration = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_integration)
stack = _integration.stack
base_url = _integration.base_url
http = _integration.http


def shot_name(request):
    """build/test-output/e2e/<test>.png with a file-system safe test name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name).strip("_")


@pytest.fixture(scope="session")
def shots():
    """The screenshot folder, emptied of an earlier run's pictures."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("*.png"):
        old.unlink()
    return SHOTS


@pytest.fixture(scope="session")
def _closer():
    """Quits browsers in the background (it takes a second or so each), so
    the next test starts meanwhile; waits for them all at the end."""
    threads = []

    def close(b, profile):
        def run():
            try:
                b.quit()
            finally:
                shutil.rmtree(profile, ignore_errors=True)
        t = threading.Thread(target=run, daemon=True)
        t.start()
        threads.append(t)

    yield close
    for t in threads:
        t.join(timeout=30)


@pytest.fixture
def browser(request, base_url, shots, _closer):
    """Factory of fresh browsers; the last one's last page is the test's picture."""
    made = []

    def make(lang="en", width=1280, height=900):
        profile = tempfile.mkdtemp(prefix="mu-e2e-chromium-")
        try:
            b = Browser(base_url, profile, lang=lang, width=width, height=height)
        except Exception:
            shutil.rmtree(profile, ignore_errors=True)
            raise
        made.append((b, profile))
        return b

    yield make
    name = shot_name(request)
    for i, (b, profile) in enumerate(reversed(made)):
        try:
            b.screenshot(shots / ("%s.png" % name if i == 0 else "%s-browser%d.png"
                                  % (name, len(made) - i)))
        except Exception as e:              # a dead browser must not hide the failure
            print("screenshot failed: %s" % e)
        finally:
            _closer(b, profile)


@pytest.fixture
def new_user(http):
    """new_user(password=...) makes an account through POST /user."""
    def make(password="Old-pass-123"):
        tag = unique("e2e")
        user = {"name": tag, "email": "%s@example.test" % tag.replace("_", "-"),
                "password": password}
        r = http().post("/user", json=user)
        assert r.status_code == 201, r.text
        user["id"] = r.json()["id"]
        return user
    return make


@pytest.fixture
def mail(stack, base_url):
    """Links must point at the stack the browser uses: http://127.0.0.1:PORT."""
    return MailDir(stack["MAIL_DIR"], base_url)
