/* client/model_name.c: the names that go into keys (cluster, family, service, instance and
 * task ids, groups) and new ids. */
#include "client/model_field.h"

#include <string.h>

const char *model_name_check(enum model_name_kind kind, const char *s)
{
	size_t n = s == NULL ? 0 : strlen(s);
	switch (kind) {
	case MODEL_NAME:
		if (n < 1 || n > MODEL_NAME_MAX)
			return "must be 1..255 characters";
		return model_field_charset(MCS_NAME, s, n);
	case MODEL_NAME_ID:
		if (n < 1 || n > MODEL_ID_MAX)
			return "must be 1..128 characters";
		return model_field_charset(MCS_ID, s, n);
	case MODEL_NAME_GROUP:
		return model_field_charset(MCS_GROUP, s == NULL ? "" : s, n);
	}
	return "unknown kind of name";
}

void model_id_new(uint64_t *rng, char out[MODEL_TASK_ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	/* splitmix64 (Steele, Lea, Flood 2014): every state gives a distinct output. */
	uint64_t z = (*rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	for (int i = MODEL_TASK_ID_LEN - 1; i >= 0; i--, z >>= 4)
		out[i] = hex[z & 15];
	out[MODEL_TASK_ID_LEN] = '\0';
}
