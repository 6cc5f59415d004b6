/* cfg_load: required settings, _FILE secrets, integer checks, defaults. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cfg.h"
#include "check.h"

#define SECRET32	"0123456789abcdef0123456789abcdef"

static char	err[256];

/* Clears every setting (and _FILE variant), then sets the FCGI minimum. */
static void
env_minimal(void)
{
	char	name[64];
	int	k;

	for (k = 0; k < CFG__MAX; k++) {
		unsetenv(cfg_name((enum cfg_key)k));
		snprintf(name, sizeof(name), "%s_FILE",
		    cfg_name((enum cfg_key)k));
		unsetenv(name);
	}
	setenv("DB_USER", "micro", 1);
	setenv("PUBLIC_BASE_URL", "https://users.example.com", 1);
	setenv("JWT_SECRET", SECRET32, 1);
}

/* Loads for prog; 1 when it failed with name in the message. */
static int
fails_naming(enum cfg_program prog, const char *name)
{
	err[0] = '\0';
	return cfg_load(prog, err, sizeof(err)) == -1 &&
	    strstr(err, name) != NULL;
}

/* Writes s to a new temporary file; returns its path (static). */
static const char *
tmpfile_with(const char *s)
{
	static char	path[64];
	int		fd;

	snprintf(path, sizeof(path), "/tmp/test-cfg-XXXXXX");
	if ((fd = mkstemp(path)) == -1)
		return NULL;
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s)) {
		close(fd);
		return NULL;
	}
	close(fd);
	return path;
}

int
main(void)
{
	const char	*path;

	/* Defaults fill everything that is not set. */
	env_minimal();
	CHECK(cfg_load(CFG_PROG_FCGI, err, sizeof(err)) == 0);
	CHECK_STR(cfg_str(CFG_DB_USER), "micro");
	CHECK_STR(cfg_str(CFG_DB_HOST), "127.0.0.1");
	CHECK_STR(cfg_str(CFG_DB_DATABASE), "micro_user");
	CHECK_STR(cfg_str(CFG_DB_SOCKET), "");
	CHECK_STR(cfg_str(CFG_DB_PASSWORD), "");
	CHECK_STR(cfg_str(CFG_JWT_ISSUER), "micro-user");
	CHECK_STR(cfg_str(CFG_MAIL_FROM), "");
	CHECK(cfg_int(CFG_DB_PORT) == 3306);
	CHECK(cfg_int(CFG_JWT_TTL) == 3600);
	CHECK(cfg_int(CFG_BODY_LIMIT) == 65536);
	CHECK(cfg_int(CFG_ARGON2_OPSLIMIT) == 2);
	CHECK(cfg_int(CFG_ARGON2_MEMLIMIT) == 67108864);
	CHECK(cfg_int(CFG_COOKIE_SECURE) == 1);
	CHECK_STR(cfg_name(CFG_BODY_LIMIT), "BODY_LIMIT");

	/* Set values win over defaults; an empty one is as good as unset. */
	setenv("DB_PORT", "3307", 1);
	setenv("JWT_TTL", "600", 1);
	setenv("DB_HOST", "", 1);
	setenv("COOKIE_SECURE", "0", 1);
	CHECK(cfg_load(CFG_PROG_FCGI, err, sizeof(err)) == 0);
	CHECK(cfg_int(CFG_DB_PORT) == 3307);
	CHECK_STR(cfg_str(CFG_DB_PORT), "3307");
	CHECK(cfg_int(CFG_JWT_TTL) == 600);
	CHECK(cfg_int(CFG_COOKIE_SECURE) == 0);
	CHECK_STR(cfg_str(CFG_DB_HOST), "127.0.0.1");

	/* A missing required setting is an error naming it. */
	env_minimal();
	unsetenv("DB_USER");
	CHECK(fails_naming(CFG_PROG_FCGI, "DB_USER"));
	CHECK(fails_naming(CFG_PROG_MAILER, "DB_USER"));
	setenv("DB_USER", "", 1);
	CHECK(fails_naming(CFG_PROG_FCGI, "DB_USER"));
	env_minimal();
	unsetenv("PUBLIC_BASE_URL");
	CHECK(fails_naming(CFG_PROG_FCGI, "PUBLIC_BASE_URL"));
	env_minimal();
	unsetenv("JWT_SECRET");
	CHECK(fails_naming(CFG_PROG_FCGI, "JWT_SECRET"));

	/* Each program requires its own settings. */
	env_minimal();
	CHECK(fails_naming(CFG_PROG_MAILER, "MAIL_FROM"));
	setenv("MAIL_FROM", "noreply@example.com", 1);
	unsetenv("JWT_SECRET");
	unsetenv("PUBLIC_BASE_URL");
	CHECK(cfg_load(CFG_PROG_MAILER, err, sizeof(err)) == 0);
	CHECK_STR(cfg_str(CFG_MAIL_FROM), "noreply@example.com");

	/* A secret is read from NAME_FILE without its trailing newline. */
	env_minimal();
	CHECK((path = tmpfile_with("s3cr\xc3\xa9t pass\n")) != NULL);
	setenv("DB_PASSWORD_FILE", path, 1);
	CHECK(cfg_load(CFG_PROG_FCGI, err, sizeof(err)) == 0);
	CHECK_STR(cfg_str(CFG_DB_PASSWORD), "s3cr\xc3\xa9t pass");
	unlink(path);
	CHECK((path = tmpfile_with("crlf\r\n")) != NULL);
	setenv("DB_PASSWORD_FILE", path, 1);
	CHECK(cfg_load(CFG_PROG_FCGI, err, sizeof(err)) == 0);
	CHECK_STR(cfg_str(CFG_DB_PASSWORD), "crlf");
	/* The variable itself, when set, wins over the file. */
	setenv("DB_PASSWORD", "from-env", 1);
	CHECK(cfg_load(CFG_PROG_FCGI, err, sizeof(err)) == 0);
	CHECK_STR(cfg_str(CFG_DB_PASSWORD), "from-env");
	unlink(path);
	/* A required secret may come from its file alone. */
	env_minimal();
	unsetenv("JWT_SECRET");
	CHECK((path = tmpfile_with(SECRET32 "\n")) != NULL);
	setenv("JWT_SECRET_FILE", path, 1);
	CHECK(cfg_load(CFG_PROG_FCGI, err, sizeof(err)) == 0);
	CHECK_STR(cfg_str(CFG_JWT_SECRET), SECRET32);
	unlink(path);
	/* An unreadable file is an error naming the _FILE variable. */
	CHECK(fails_naming(CFG_PROG_FCGI, "JWT_SECRET_FILE"));
	env_minimal();
	setenv("DB_PASSWORD_FILE", "/nonexistent/db-password", 1);
	CHECK(fails_naming(CFG_PROG_FCGI, "DB_PASSWORD_FILE"));

	/* Malformed or out-of-range numbers name the variable. */
	env_minimal();
	setenv("BODY_LIMIT", "abc", 1);
	CHECK(fails_naming(CFG_PROG_FCGI, "BODY_LIMIT"));
	setenv("BODY_LIMIT", "4096k", 1);
	CHECK(fails_naming(CFG_PROG_FCGI, "BODY_LIMIT"));
	setenv("BODY_LIMIT", "1023", 1);
	CHECK(fails_naming(CFG_PROG_FCGI, "BODY_LIMIT"));
	setenv("BODY_LIMIT", "99999999999999999999999", 1);
	CHECK(fails_naming(CFG_PROG_FCGI, "BODY_LIMIT"));
	setenv("BODY_LIMIT", "1024", 1);
	CHECK(cfg_load(CFG_PROG_FCGI, err, sizeof(err)) == 0);
	CHECK(cfg_int(CFG_BODY_LIMIT) == 1024);
	setenv("DB_PORT", "65536", 1);
	CHECK(fails_naming(CFG_PROG_FCGI, "DB_PORT"));
	setenv("DB_PORT", "-1", 1);
	CHECK(fails_naming(CFG_PROG_FCGI, "DB_PORT"));
	env_minimal();
	setenv("JWT_TTL", "59", 1);
	CHECK(fails_naming(CFG_PROG_FCGI, "JWT_TTL"));
	env_minimal();
	setenv("ARGON2_MEMLIMIT", "8191", 1);
	CHECK(fails_naming(CFG_PROG_FCGI, "ARGON2_MEMLIMIT"));

	/* The signing key must be at least 32 bytes. */
	env_minimal();
	setenv("JWT_SECRET", "0123456789abcdef0123456789abcde", 1);
	CHECK(fails_naming(CFG_PROG_FCGI, "JWT_SECRET"));
	setenv("JWT_SECRET", SECRET32, 1);
	CHECK(cfg_load(CFG_PROG_FCGI, err, sizeof(err)) == 0);

	return check_done("test-cfg-load");
}
