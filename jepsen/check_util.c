/* jepsen/check_util.c: what the checkers share: the verdict as JSON and back, bounded
 * lists of examples (jepsen/check.h). */
#include "jepsen/check.h"

#include <string.h>

json_t *check_valid_json(enum check_verdict v)
{
	return v == CHECK_VALID     ? json_true()
	       : v == CHECK_INVALID ? json_false()
				    : json_string("unknown");
}

enum check_verdict check_verdict_of(const json_t *result)
{
	const json_t *v = json_object_get(result, "valid");
	if (json_is_true(v))
		return CHECK_VALID;
	if (json_is_false(v))
		return CHECK_INVALID;
	return CHECK_UNKNOWN;
}

int check_example(json_t *arr, json_t *item, size_t max)
{
	if (item == NULL)
		return -1;
	if (json_array_size(arr) >= max) {
		json_decref(item);
		return 0;
	}
	return json_array_append_new(arr, item);
}
