/* Under ASan, arena memory past an allocation's size is poisoned. */
#include <sanitizer/asan_interface.h>

#include "arena.h"
#include "check.h"

int
main(void)
{
	struct arena	*a = arena_new();
	char		*p = arena_alloc(a, 10), *q;

	CHECK(!__asan_address_is_poisoned(p));
	CHECK(!__asan_address_is_poisoned(p + 9));
	/* The padding up to the next allocation is not usable. */
	CHECK(__asan_address_is_poisoned(p + 10));
	q = arena_alloc(a, 100);
	CHECK(!__asan_address_is_poisoned(q + 99));
	CHECK(__asan_address_is_poisoned(q + 100));
	/* After a reset, what was handed out is poisoned again. */
	arena_reset(a);
	CHECK(__asan_address_is_poisoned(p));
	arena_free(a);
	return check_done("test-arena-poison");
}
