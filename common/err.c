/* common/err.c: the error table's lookups. */
#include "common/err.h"

#include <stddef.h>

struct err_entry {
	int code;
	const char *name;
	const char *text;
};

static const struct err_entry err_table[] = {
#define BERTH_ERR_ROW_(name, num, text) {num, #name, text},
	BERTH_ERRORS(BERTH_ERR_ROW_)
#undef BERTH_ERR_ROW_
};

static const struct err_entry *err_find(int code)
{
	for (size_t i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++)
		if (err_table[i].code == code)
			return &err_table[i];
	return NULL;
}

const char *err_name(int code)
{
	if (code == BERTH_OK)
		return "BERTH_OK";
	const struct err_entry *e = err_find(code);
	return e ? e->name : "BERTH_E?";
}

const char *err_text(int code)
{
	if (code == BERTH_OK)
		return "ok";
	const struct err_entry *e = err_find(code);
	return e ? e->text : "unknown error";
}

int err_known(int code)
{
	return code == BERTH_OK || err_find(code) != NULL;
}

int err_indeterminate(int code)
{
	return code == BERTH_ETIMEOUT || code == BERTH_EUNAVAILABLE;
}
