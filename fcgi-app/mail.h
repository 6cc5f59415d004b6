/*
 * Email: building a MIME message (multipart/alternative, text and HTML,
 * UTF-8) that cannot carry injected header lines, and sending it over
 * SMTP with libesmtp using the cfg SMTP_* settings.
 */
#ifndef MAIL_H
#define MAIL_H

#include <stddef.h>
#include <time.h>

struct buf;

/* What goes into a message.  Strings are UTF-8. */
struct mail {
	const char	*from;		/* "addr" or "Name <addr>" (MAIL_FROM) */
	const char	*to_name;	/* display name; NULL or "" for none */
	const char	*to_addr;
	const char	*subject;
	const char	*id;		/* event id: Message-ID and boundary */
	time_t		 date;
	const char	*text;		/* text/plain body */
	const char	*html;		/* text/html body */
};

/* How a send ended. */
enum mail_status {
	MAIL_SENT,		/* the server took it (2xx after DATA) */
	MAIL_TRANSIENT,		/* no connection, timeout, 4xx: try again */
	MAIL_PERMANENT		/* 5xx or an unusable address: give up */
};

struct mail_result {
	enum mail_status status;
	int		 code;		/* SMTP reply code, 0 without one */
	char		 reply[256];	/* server reply or error, for the log */
};

/*
 * Whether addr is a plain ASCII address (dot-atom local part, DNS-style
 * domain) with nothing that could break out of a header.  Returns 1 or 0.
 */
int	mail_addr_valid(const char *addr);

/*
 * Copies the address part of "addr" or "Name <addr>" into out.  Returns
 * 0, or -1 when it is malformed.
 */
int	mail_addr_of(const char *from, char *out, size_t outlen);

/*
 * Appends s as a header value: unchanged when it is printable ASCII,
 * otherwise as RFC 2047 encoded words (UTF-8, base64) folded onto
 * continuation lines.  Control characters (CR and LF among them) are
 * dropped first, so a value can never start a new header.
 */
void	mail_header_text(struct buf *, const char *s);

/*
 * Appends len bytes as quoted-printable (RFC 2045): LF or CRLF become
 * CRLF, lines stay within 76 characters, and the output always ends in
 * CRLF (a soft break when s does not end in a newline).
 */
void	mail_qp_encode(struct buf *, const char *s, size_t len);

/* Appends len bytes as base64 in lines of 76, each ending in CRLF. */
void	mail_base64_encode(struct buf *, const void *p, size_t len);

/*
 * Builds the whole message (headers and body, CRLF line ends) into out.
 * Returns 0, or -1 with the reason in err (bad address or id).
 */
int	mail_build(const struct mail *, struct buf *out, char *err,
	    size_t errlen);

/* One message of a batch: a built message, its recipient, its outcome. */
struct mail_item {
	const char		*rcpt;
	const struct buf	*msg;
	struct mail_result	 res;		/* filled by the send */
};

/* The most SMTP sessions one batch is spread over. */
#define MAIL_SESSIONS_MAX	32

/*
 * Sends n built messages from the address of MAIL_FROM through
 * SMTP_HOST:SMTP_PORT, with STARTTLS and AUTH as configured, over up to
 * MAILER_SMTP_SESSIONS sessions at once (each one connection, EHLO and
 * AUTH once, on a thread of its own), each message with its own
 * envelope.  Always fills every item's res: a message the server took
 * is MAIL_SENT even when its session broke later.
 */
void	mail_send_batch(struct mail_item *items, size_t n);

#endif
