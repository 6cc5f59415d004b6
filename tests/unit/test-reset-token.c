/* reset_token_well_formed: 43 base64url characters of 32 bytes only. */
#include <sodium.h>

#include "check.h"
#include "reset.h"

int
main(void)
{
	unsigned char	raw[32];
	char		tok[64], t[64];
	int		i, ok = 1;

	CHECK(sodium_init() >= 0);

	/* Tokens as reset.c makes them are well formed. */
	for (i = 0; i < 50; i++) {
		randombytes_buf(raw, sizeof(raw));
		sodium_bin2base64(tok, sizeof(tok), raw, sizeof(raw),
		    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		if (strlen(tok) != RESET_TOKEN_LEN ||
		    !reset_token_well_formed(tok))
			ok = 0;
	}
	CHECK(ok);
	CHECK(reset_token_well_formed(
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
	CHECK(reset_token_well_formed(
	    "-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_8"));

	/* Other lengths. */
	CHECK(!reset_token_well_formed(NULL));
	CHECK(!reset_token_well_formed(""));
	CHECK(!reset_token_well_formed(
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));	/* 42 */
	CHECK(!reset_token_well_formed(
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));	/* 44 */
	snprintf(t, sizeof(t), "%.43s=", tok);
	CHECK(!reset_token_well_formed(t));

	/* Characters outside base64url, in a 43-character string. */
	snprintf(t, sizeof(t), "%s", tok);
	t[5] = '+';
	CHECK(!reset_token_well_formed(t));
	t[5] = '/';
	CHECK(!reset_token_well_formed(t));
	t[5] = '=';
	CHECK(!reset_token_well_formed(t));
	t[5] = ' ';
	CHECK(!reset_token_well_formed(t));
	t[5] = '.';
	CHECK(!reset_token_well_formed(t));
	snprintf(t, sizeof(t), "%.42s=", tok);
	CHECK(!reset_token_well_formed(t));
	snprintf(t, sizeof(t), "%.42s\n", tok);
	CHECK(!reset_token_well_formed(t));
	snprintf(t, sizeof(t), "%.41s\r\n", tok);
	CHECK(!reset_token_well_formed(t));
	snprintf(t, sizeof(t), "\n%.42s", tok);
	CHECK(!reset_token_well_formed(t));

	/* The last character carries 4 bits: spare low bits must be 0. */
	CHECK(!reset_token_well_formed(
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB"));

	return check_done("test-reset-token");
}
