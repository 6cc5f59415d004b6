/*
 * Administration from the command line: `user-fcgi --create-admin NAME
 * EMAIL` (password on standard input) creates an admin, or promotes the
 * existing account with that email.
 */
#ifndef ADMIN_H
#define ADMIN_H

/* Returns the process exit status. */
int	admin_create(const char *name, const char *email);

#endif
