/*
 * Input validators.  Each returns NULL when the value is acceptable, or a
 * short English message for the client ("must be ...").
 */
#ifndef VALID_H
#define VALID_H

#include <stddef.h>

/* Number of code points in s, or -1 when s is not valid UTF-8. */
long		 valid_utf8_len(const char *s);

const char	*valid_email(const char *);
const char	*valid_name(const char *);
const char	*valid_password(const char *);
const char	*valid_real_name(const char *);
const char	*valid_avatar(const char *);

#endif
