"""The deployment files against the programs, without a Docker engine.

docker-compose.yaml, .env.example, the Dockerfile, the README's settings
table and the nginx site configs are checked against what the code really
reads: the settings table in fcgi-app/cfg.c (which program uses which key
is found from the sources the Makefile links into it), the variables each
script in scripts/ documents in its header, and the placeholders of the
nginx templates. A setting renamed, added or given a new default in one
place only fails here. Needs no running stack: only Debian's
docker-compose (`config` validates and resolves the file), nginx and
openssl, all installed by scripts/install-deps.sh.

Run alone: /usr/bin/python3 -m pytest tests/integration/test_compose.py
"""

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yaml"
IMAGE_ROOT = "/opt/micro-user/"

# Settings whose compose default differs from the program's, on purpose:
# inside the compose network the services have names, and the image has
# its own layout. Anything else must keep the program's default.
COMPOSE_OVERRIDES = {
    "DB_HOST": "mysql",
    "DB_USER": "micro_user",            # required by the programs: no default
    "AMQP_HOST": "rabbitmq",
    "AMQP_USER": "micro_user",          # guest may only log in from loopback
    "PUBLIC_BASE_URL": "http://localhost:8080",
    "TEMPLATE_DIR": "/opt/micro-user/templates",
    "SMTP_HOST": "smtp",                # the Mailpit catcher
    "SMTP_PORT": "1025",
    "MAIL_FROM": "micro-user <no-reply@localhost>",
}
# Services built from our Dockerfile, and what each runs.
OUR_SERVICES = {"migrate", "fcgi", "mailer", "nginx"}
# Variables of third-party images that a service of ours sets.
IMAGE_SETTINGS = {"nginx": {"NGINX_ENVSUBST_FILTER"}}


# ------------------------------------------------------------------ sources


def cfg_rows():
    """{name: (default or None, required-by, secret)} from fcgi-app/cfg.c."""
    text = (ROOT / "fcgi-app" / "cfg.c").read_text()
    table = text[text.index("cfg_rows[CFG__MAX]"):]
    table = table[:table.index("};")]
    rows = {}
    for m in re.finditer(r'\{\s*"([A-Z][A-Z0-9_]*)",\s*(NULL|"[^"]*"),\s*'
                         r'(\w+),\s*([01]),', table):
        name, default, req, secret = m.groups()
        rows[name] = (None if default == "NULL" else default[1:-1], req,
                      secret == "1")
    assert len(rows) >= 30, "cannot parse the settings table in cfg.c"
    assert len(rows) == table.count('{ "'), "a row of cfg.c's table was not parsed"
    return rows


def makefile_list(name):
    text = (ROOT / "Makefile").read_text()
    m = re.search(r"^%s\s*:=\s*(.*)$" % name, text, re.M)
    assert m, "Makefile has no %s list" % name
    return m.group(1).split()


def program_sources():
    """The C files linked into each program, as the Makefile says."""
    core = makefile_list("CORE")
    app = ["user_fcgi"] + makefile_list("APP") + core
    mailer = ["reset_mailer"] + makefile_list("MAILER") + core
    return {"user-fcgi": app, "reset-mailer": mailer}


def settings_read_by():
    """{program: set of setting names its sources use (CFG_<NAME>)}."""
    rows = cfg_rows()
    out = {}
    for prog, units in program_sources().items():
        text = "".join((ROOT / "fcgi-app" / (u + ".c")).read_text() for u in units
                       if u != "cfg")
        out[prog] = {n for n in rows if re.search(r"\bCFG_%s\b" % n, text)}
    return out


def script_documented_vars(script):
    """Upper-case names in a script's header comment that its code uses too."""
    assert (ROOT / script).exists(), "%s does not exist" % script
    lines = (ROOT / script).read_text().splitlines()
    header = []
    for line in lines[1:]:
        if not line.startswith("#"):
            break
        header.append(line)
    code = "\n".join(l for l in lines if not l.lstrip().startswith("#"))
    named = set(re.findall(r"\b([A-Z][A-Z0-9]*_[A-Z0-9_]+)\b", "\n".join(header)))
    return {n for n in named if re.search(r"\$\{?%s\b" % n, code)}


def nginx_placeholders(path):
    return set(re.findall(r"\$\{(MU_[A-Z_]+)\}", (ROOT / path).read_text()))


# ------------------------------------------------------------------ compose


def clean_env():
    """No settings from the caller's shell (make test exports DB_PORT...)."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent"}


def compose(*args, env_file=None):
    cmd = ["docker-compose", "-f", str(COMPOSE), "--project-directory", str(ROOT)]
    if env_file is not None:
        cmd += ["--env-file", str(env_file)]
    return subprocess.run(cmd + list(args), cwd=ROOT, env=clean_env(),
                          capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def resolved():
    """docker-compose config, resolved with no .env and no shell settings."""
    assert shutil.which("docker-compose"), \
        "docker-compose is missing: run scripts/install-deps.sh"
    with tempfile.NamedTemporaryFile("w", suffix=".env") as empty:
        r = compose("config", env_file=empty.name)
    assert r.returncode == 0, "docker-compose config failed:\n" + r.stderr
    return yaml.safe_load(r.stdout)


@pytest.fixture(scope="module")
def raw():
    return yaml.safe_load(COMPOSE.read_text())


def env_of(service):
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) for e in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def compose_defaults():
    """{NAME: default} of every ${NAME:-default} (or ${NAME}) in the file."""
    out = {}
    text = "\n".join(l for l in COMPOSE.read_text().splitlines()
                     if not l.lstrip().startswith("#"))
    for m in re.finditer(r"\$\{([A-Z][A-Z0-9_]*)(?::?-([^}]*))?\}", text):
        name, default = m.group(1), m.group(2) or ""
        assert out.get(name, default) == default, \
            "%s has two different defaults in docker-compose.yaml" % name
        out[name] = default
    return out


def env_example():
    out = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, value = line.split("=", 1)
            assert name not in out, "%s twice in .env.example" % name
            out[name] = value
    return out


def programs_in(name, service):
    """The programs (user-fcgi, reset-mailer) and scripts a service runs."""
    words = " ".join(service.get("command") or [])
    progs, scripts = set(), set()
    if "bin/user-fcgi" in words:
        progs.add("user-fcgi")
    for s in re.findall(r"/opt/micro-user/(scripts/[\w.-]+)", words):
        scripts.add(s)
    if "scripts/mailer-cron.sh" in scripts:     # runs the supervisor, which runs the mailer
        scripts.add("scripts/mailer-supervise.sh")
        progs.add("reset-mailer")
    return progs, scripts


# ------------------------------------------------------------------ tests


def test_compose_config_is_valid(resolved):
    assert set(resolved["services"]) == {
        "nginx", "fcgi", "mailer", "migrate", "mysql", "rabbitmq", "smtp"}


def test_env_example_resolves_to_the_same_file(resolved):
    """Every value in .env.example is the compose default it documents."""
    r = compose("config", env_file=ROOT / ".env.example")
    assert r.returncode == 0, r.stderr
    assert yaml.safe_load(r.stdout) == resolved


def test_env_example_lists_every_setting():
    example, defaults = env_example(), compose_defaults()
    assert set(example) == set(defaults), (
        "names in .env.example but not used by docker-compose.yaml: %s; "
        "used by docker-compose.yaml but not in .env.example: %s" % (
            sorted(set(example) - set(defaults)), sorted(set(defaults) - set(example))))
    for name, (default, _req, secret) in cfg_rows().items():
        if secret:
            continue        # files in SECRETS_DIR, named in .env.example's header
        assert name in example, "%s (fcgi-app/cfg.c) is missing from .env.example" % name
        want = COMPOSE_OVERRIDES.get(name, default)
        assert example[name] == want, (
            "%s: .env.example says %r, cfg.c's default is %r (add it to "
            "COMPOSE_OVERRIDES if compose differs on purpose)" % (name, example[name], default))
    for name in COMPOSE_OVERRIDES:
        assert name in cfg_rows(), "COMPOSE_OVERRIDES names %s, not a setting" % name


def test_compose_sets_only_what_the_programs_read(resolved):
    rows, read_by = cfg_rows(), settings_read_by()
    for name, svc in resolved["services"].items():
        if name not in OUR_SERVICES:
            continue
        progs, scripts = programs_in(name, svc)
        allowed = set(IMAGE_SETTINGS.get(name, ()))
        for prog in progs:
            for s in read_by[prog]:
                allowed.add(s)
                if rows[s][2]:
                    allowed.add(s + "_FILE")
        for script in scripts:
            allowed |= script_documented_vars(script)
        if name == "nginx":
            allowed |= nginx_placeholders("nginx/micro-user.conf")
        unread = sorted(set(env_of(svc)) - allowed)
        assert not unread, "service %s sets %s, which nothing it runs reads" % (name, unread)


def test_required_settings_are_set(resolved):
    rows, read_by = cfg_rows(), settings_read_by()
    bits = {"user-fcgi": {"FCGI", "BOTH"}, "reset-mailer": {"MAILER", "BOTH"}}
    for name, svc in resolved["services"].items():
        env = env_of(svc)
        progs, _ = programs_in(name, svc)
        for prog in progs:
            for s, (default, req, secret) in rows.items():
                if default is None and req in bits[prog]:
                    assert env.get(s) or (secret and env.get(s + "_FILE")), \
                        "service %s runs %s but does not set %s" % (name, prog, s)
    nginx = env_of(resolved["services"]["nginx"])
    missing = nginx_placeholders("nginx/micro-user.conf") - set(nginx)
    assert not missing, "nginx service leaves placeholders unset: %s" % sorted(missing)


def test_every_file_setting_is_a_mounted_secret(resolved):
    rows = cfg_rows()
    declared = set(resolved.get("secrets", {}))
    used = set()
    for name, svc in resolved["services"].items():
        mounted = {s if isinstance(s, str) else s["source"] for s in svc.get("secrets", [])}
        used |= mounted
        for var, value in env_of(svc).items():
            if not var.endswith("_FILE") or name not in OUR_SERVICES:
                continue
            base = var[:-len("_FILE")]
            assert base in rows and rows[base][2], \
                "service %s sets %s, but %s is not a secret setting of cfg.c" % (name, var, base)
            m = re.fullmatch(r"/run/secrets/([\w.-]+)", value)
            assert m and m.group(1) in mounted, \
                "service %s: %s=%s is not one of its secrets %s" % (name, var, value, sorted(mounted))
    assert declared <= used, "secrets declared but never mounted: %s" % sorted(declared - used)
    for secret in ("JWT_SECRET", "DB_PASSWORD", "AMQP_PASSWORD"):
        assert rows[secret][2], "%s should be a secret (_FILE) setting in cfg.c" % secret
    # compose-secrets.sh makes exactly the files the compose file mounts.
    made = set(re.findall(r"for name in ([\w ]+); do",
                          (ROOT / "scripts" / "compose-secrets.sh").read_text())[0].split())
    assert made == declared


def dockerfile_stage(stage):
    text = (ROOT / "Dockerfile").read_text()
    m = re.search(r"^FROM \S+ AS %s\n(.*?)(?=^FROM |\Z)" % stage, text, re.M | re.S)
    assert m, "Dockerfile has no stage %s" % stage
    return m.group(1)


def apt_packages(stage_text):
    m = re.search(r"apt-get install[^\n]*\\\n(.*?)\n \&\& ", stage_text, re.S)
    assert m, "no apt-get install in the stage"
    return set(m.group(1).replace("\\", " ").split())


def essential(package):
    """Whether every Debian system has the package (base image included)."""
    r = subprocess.run(["dpkg-query", "-W", "-f=${Essential} ${Priority}", package],
                       capture_output=True, text=True)
    return r.stdout.split() and (r.stdout.split()[0] == "yes" or "required" in r.stdout)


def package_of(path):
    r = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
    if r.returncode != 0 and path.startswith("/usr/"):
        r = subprocess.run(["dpkg", "-S", path[len("/usr"):]], capture_output=True, text=True)
    assert r.returncode == 0, "%s: no Debian package ships it here (install-deps?)" % path
    return r.stdout.split(":")[0]


def image_file_exists(path, runtime):
    """Whether an absolute path in our runtime image comes from the repo or a package."""
    if path.startswith(IMAGE_ROOT):
        rel = path[len(IMAGE_ROOT):]
        if rel.startswith("bin/"):
            binary = rel[len("bin/"):]
            assert "/src/build/%s" % binary in runtime, "the Dockerfile does not copy %s" % binary
            assert re.search(r"^\$\(BIN\)/%s:" % binary, (ROOT / "Makefile").read_text(), re.M)
            return True
        top = rel.split("/")[0]
        assert "COPY %s/ %s%s/" % (top, IMAGE_ROOT, top) in runtime, \
            "the Dockerfile does not copy %s/" % top
        return (ROOT / rel).exists()
    return package_of(path) in apt_packages(runtime)


def test_commands_refer_to_files_in_the_image(resolved):
    runtime = dockerfile_stage("runtime")
    for name, svc in resolved["services"].items():
        if svc.get("build", {}).get("target") != "runtime":
            continue
        for word in svc.get("command") or []:
            if word.startswith("/"):
                assert image_file_exists(word, runtime), \
                    "service %s runs %s, which is not in the image" % (name, word)
                if word.startswith(IMAGE_ROOT + "scripts/"):
                    rel = word[len(IMAGE_ROOT):]
                    assert os.access(ROOT / rel, os.X_OK), "%s is not executable" % rel
        test = svc.get("healthcheck", {}).get("test", [])
        if test and test[0] == "CMD-SHELL":
            for tool in re.findall(r"\|\s*(\w[\w-]*)|^(?:\w+=\S+\s+)*(\w[\w-]*)", test[1]):
                for t in filter(None, tool):
                    if t in ("kill",):       # shell builtins
                        continue
                    pkg = package_of(shutil.which(t))
                    assert pkg in apt_packages(runtime) or essential(pkg), \
                        "service %s's health check runs %s (%s), not in the image" % (name, t, pkg)
    # The mailer's cron job: the same line a plain host installs.
    crontab = (ROOT / "scripts" / "crontab").read_text()
    job = [l for l in crontab.splitlines() if l and not l.startswith("#")]
    assert len(job) == 1 and "/opt/micro-user/scripts/mailer-supervise.sh" in job[0]


def test_runtime_image_has_no_compiler():
    runtime = apt_packages(dockerfile_stage("runtime"))
    bad = {p for p in runtime if p.endswith("-dev") or p in (
        "gcc", "cc", "clang", "make", "build-essential", "libc6-dev", "pkg-config")}
    assert not bad, "the runtime image installs build tools: %s" % sorted(bad)
    builder = apt_packages(dockerfile_stage("builder"))
    for lib in ("libfcgi0ldbl", "libjson-c5", "libmariadb3", "librabbitmq4",
                "libesmtp6", "libsodium23", "libjwt0"):
        assert lib in runtime
    # Every -dev package of the build has its runtime library in the image.
    devs = sorted(p for p in builder if p.endswith("-dev") and p != "libc6-dev")
    # Installed by scripts/install-deps.sh: dpkg knows their dependencies.
    r = subprocess.run(["dpkg-query", "-W", "-f=${Package}\t${Depends}\n"] + devs,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for line in r.stdout.splitlines():
        dev, depends = line.split("\t")
        deps = [d.strip().split()[0] for d in depends.split(",") if d.strip()]
        libs = [d for d in deps if not d.endswith("-dev") and d.startswith("lib")]
        assert libs and libs[0] in runtime, "%s needs %s at run time" % (dev, libs[:1])


def test_dockerfile_env_is_read(resolved):
    runtime = dockerfile_stage("runtime")
    m = re.search(r"^ENV (.*?)\n(?!\s)", runtime, re.M | re.S)
    names = set(re.findall(r"(?:^|\s)([A-Z][A-Z0-9_]*)=", m.group(1)))
    documented = set()
    for script in (ROOT / "scripts").glob("*.sh"):
        documented |= script_documented_vars("scripts/" + script.name)
    unread = names - {"PATH"} - set(cfg_rows()) - documented
    assert not unread, "the Dockerfile sets %s, which nothing reads" % sorted(unread)


def test_readme_settings_table_matches_cfg():
    """The README's table is the contract: same names and defaults as cfg.c."""
    text = (ROOT / "README.md").read_text()
    table = {}
    for m in re.finditer(r"^\| `([A-Z][A-Z0-9_]*)`(?: / `_FILE`)? \| ([^|]+) \|", text, re.M):
        table.setdefault(m.group(1), m.group(2).strip())
    for name, (default, _req, secret) in cfg_rows().items():
        assert name in table, "%s (cfg.c) is missing from the README's settings table" % name
        shown = table[name]
        if default is None:
            assert shown == "**required**", "%s: README says %s, cfg.c: required" % (name, shown)
        elif default == "":
            assert shown == "(empty)", "%s: README says %s, cfg.c: empty" % (name, shown)
        else:
            assert shown == "`%s`" % default, "%s: README says %s, cfg.c: %r" % (name, shown, default)


# ------------------------------------------------------------------ nginx


def render(template, values):
    text = (ROOT / template).read_text()
    for k, v in values.items():
        text = text.replace("${%s}" % k, v)
    left = re.findall(r"\$\{MU_\w+\}", text)
    assert not left, "%s: unrendered %s" % (template, left)
    return text


def nginx_test(tmp_path, site):
    for d in ("tmp", "log"):
        (tmp_path / d).mkdir(exist_ok=True)
    (tmp_path / "site.conf").write_text(site)
    conf = tmp_path / "nginx.conf"
    conf.write_text("""
pid %(d)s/nginx.pid;
error_log %(d)s/log/error.log;
events {}
http {
    include /etc/nginx/mime.types;
    client_body_temp_path %(d)s/tmp/body; fastcgi_temp_path %(d)s/tmp/fcgi;
    proxy_temp_path %(d)s/tmp/proxy; scgi_temp_path %(d)s/tmp/scgi;
    uwsgi_temp_path %(d)s/tmp/uwsgi;
    access_log off;
    include %(d)s/site.conf;
}
""" % {"d": tmp_path})
    r = subprocess.run(["nginx", "-t", "-q", "-p", str(tmp_path), "-c", str(conf),
                        "-e", str(tmp_path / "log" / "error.log")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


STATIC = str(ROOT / "templates" / "static")


def test_nginx_site_renders_and_passes_nginx_t(tmp_path):
    site = render("nginx/micro-user.conf", {
        "MU_LISTEN": "127.0.0.1:18999", "MU_FCGI_PASS": "unix:/tmp/none.sock",
        "MU_STATIC_ROOT": STATIC, "MU_ACCESS_LOG": str(tmp_path / "access.log")})
    nginx_test(tmp_path, site)


def test_nginx_tls_example_renders_and_passes_nginx_t(tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-subj", "/CN=localhost", "-days", "1", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True, timeout=60)
    site = render("nginx/micro-user-tls.conf.example", {
        "MU_SERVER_NAME": "localhost", "MU_TLS_CERT": str(cert), "MU_TLS_KEY": str(key),
        "MU_FCGI_PASS": "unix:/tmp/none.sock", "MU_STATIC_ROOT": STATIC,
        "MU_ACCESS_LOG": str(tmp_path / "access.log")})
    nginx_test(tmp_path, site)


def locations(path):
    text = (ROOT / path).read_text()
    start = text.index("    # The only paths")
    return text[start:], text[text.index("map "):text.index("server {")]


def test_nginx_tls_example_keeps_the_same_locations_and_guard():
    plain, tls = locations("nginx/micro-user.conf"), locations("nginx/micro-user-tls.conf.example")
    assert plain == tls, "nginx/micro-user-tls.conf.example's locations or limit zone " \
        "differ from nginx/micro-user.conf's: keep them the same"


def test_nginx_guards_the_login_and_forgot_posts():
    site = (ROOT / "nginx" / "micro-user.conf").read_text()
    m = re.search(r'"~\^POST /\(([^)]*)\)\$"', site)
    guarded = set(m.group(1).split("|"))
    assert {"user/token", "user/login", "password/forgot", "user/password"} <= guarded
    routes = (ROOT / "fcgi-app" / "user_fcgi.c").read_text()
    for path in guarded:
        assert re.search(r'HTTP_POST, "/%s"' % re.escape(path), routes), \
            "nginx guards POST /%s, which is no route of user-fcgi" % path
    assert re.search(r"limit_req zone=mu_guard burst=\d+ nodelay;", site)
    assert "fastcgi_param REQUEST_ID         $request_id;" in site
    assert re.search(r"client_max_body_size \d+[km]?;", site)
    assert "location ~ ^/(user|user/.*|password/.*)$" in site


# ------------------------------------------------------------------ man pages


def readme_used_by():
    """{program: settings the README's table says it uses} ("used by" column)."""
    out = {"user-fcgi": set(), "reset-mailer": set()}
    text = (ROOT / "README.md").read_text()
    for m in re.finditer(r"^\| `([A-Z][A-Z0-9_]*)`(?: / `_FILE`)? \|[^|]+\| ([^|]+) \|",
                         text, re.M):
        name, used = m.group(1), m.group(2)
        if "both" in used or "fcgi" in used:
            out["user-fcgi"].add(name)
        if "both" in used or "mailer" in used:
            out["reset-mailer"].add(name)
    return out


@pytest.mark.parametrize("prog", ["user-fcgi", "reset-mailer"])
def test_readme_used_by_matches_the_code(prog):
    claimed = readme_used_by()[prog]
    wrong = sorted(claimed - settings_read_by()[prog])
    assert not wrong, "README says %s uses %s, but its sources never read them" % (prog, wrong)


@pytest.mark.parametrize("prog", ["user-fcgi", "reset-mailer"])
def test_man_page_lists_every_setting_and_renders(prog):
    page = ROOT / "fcgi-app" / (prog + ".8")
    text = page.read_text()
    listed = set(re.findall(r"\bEv ([A-Z][A-Z0-9_]*)", text))
    missing = sorted(readme_used_by()[prog] - listed)
    assert not missing, "%s does not describe %s" % (page.name, missing)
    unknown = sorted(listed - set(cfg_rows()))
    assert not unknown, "%s names settings cfg.c does not have: %s" % (page.name, unknown)
    r = subprocess.run(["man", "-l", "-P", "cat", str(page)], capture_output=True,
                       text=True, timeout=30, env=dict(os.environ, MANWIDTH="80"))
    assert r.returncode == 0 and "SIGTERM" in r.stdout and "EXIT STATUS" in r.stdout, r.stderr
    if shutil.which("mandoc"):
        r = subprocess.run(["mandoc", "-Tlint", "-W", "warning", str(page)],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr


def test_multiwatch_keeps_its_default_stop_signal(resolved):
    """multiwatch stops its workers with SIGUSR1, libfcgi's graceful stop.
    Debian 12's multiwatch 1.0.0 maps -s names off by one (-s TERM sends
    SIGQUIT, which kills a worker mid-request), so no -s anywhere."""
    words = resolved["services"]["fcgi"]["command"]
    after = words[words.index("/usr/bin/multiwatch"):]
    assert "-s" not in after[:after.index("--")] and not any(
        w.startswith("--signal") for w in after), after
    for path in ("scripts/stack.sh", "README.md", "fcgi-app/user-fcgi.8"):
        text = (ROOT / path).read_text()
        assert not re.search(r"multiwatch[^\n]*\s-s\s", text), \
            "%s runs multiwatch with -s" % path
