/*
 * Input validators.  Each returns NULL when the value is acceptable, or a
 * short English message for the client ("must be ...").
 */
#ifndef VALID_H
#define VALID_H

#include <stddef.h>

/*
 * The messages, named so that pages can map each to its translated
 * locale string (http.c) and tests can refer to them.
 */
#define VALID_REQUIRED		"is required"
#define VALID_NOT_STRING	"must be a string"
#define VALID_EMAIL_LONG	"must be at most 254 characters"
#define VALID_EMAIL		"must be a valid email address"
#define VALID_NAME_LEN		"must be 3 to 32 characters"
#define VALID_NAME_CHARS	"may hold only letters, digits, '_', '.' and '-'"
#define VALID_UTF8		"must be valid UTF-8 text"
#define VALID_PASSWORD_LEN	"must be 8 to 128 characters"
#define VALID_REAL_NAME_LEN	"must be at most 64 characters"
#define VALID_CONTROL		"must not contain control characters"
#define VALID_AVATAR_LEN	"must be at most 255 characters"
#define VALID_AVATAR_SCHEME	"must be an http or https URL"
#define VALID_AVATAR_CHARS	"must be a URL without spaces or quotes"
#define VALID_EMAIL_TAKEN	"is already registered"
#define VALID_NAME_TAKEN	"is already taken"
#define VALID_MISMATCH		"does not match the password"
#define VALID_CURRENT_PASSWORD	"is not your current password"

/* Number of code points in s, or -1 when s is not valid UTF-8. */
long		 valid_utf8_len(const char *s);

const char	*valid_email(const char *);
const char	*valid_name(const char *);
const char	*valid_password(const char *);
const char	*valid_real_name(const char *);
const char	*valid_avatar(const char *);

#endif
