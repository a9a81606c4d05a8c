/* client/query.h: the ECS cluster query language: compiled once, matched against instances.
 *
 * An expression selects instances by their attributes and id (docs/scheduling.md):
 *
 *	attribute:ecs.instance-type =~ t2.* and attribute:zone in (eu-1a, eu-1b)
 *	not (attribute:disk exists) or instanceId == i-42
 *
 * Comparisons: subject operator [value]. Subjects: attribute:NAME, ec2InstanceId (or
 * instanceId). Operators (words in parentheses are ECS's spelled-out synonyms):
 *	== (equals)  != (not_equals)  > (greater_than)  >= (greater_than_equal)
 *	< (less_than)  <= (less_than_equal)   numeric when both sides are numbers, else
 *	                                      byte-wise string order
 *	exists  !exists (not_exists, not exists)
 *	in LIST  !in LIST (not_in, not in)    LIST: (v1, v2, ...) or [v1, v2, ...]; == per value
 *	=~ (matches)  !~ (not_matches)        a wildcard pattern, fnmatch(3): t2.* , ?, [a-c]
 * Values are bare words (no spaces, none of ( ) [ ] , ' " = ! < > & |) or quoted with ' or
 * "; inside quotes \' \" and \\ stand for the character. Combined with not / !, and / &&,
 * or / || (that precedence, tightest first; and/or/not in any case) and parentheses.
 *
 * Missing attributes: every positive operator (==, >, in, =~, exists, ...) is false on an
 * attribute the instance lacks, and each negative operator is exactly the negation of its
 * positive (so != is true there). An attribute given with a NULL value exists and compares
 * as the empty string.
 *
 * Errors name the column (1-based, in bytes) and what was expected:
 *	"column 17: expected a value after '=='".
 * Limits: QUERY_MAX_BYTES of text, QUERY_MAX_DEPTH levels of parentheses and not,
 * QUERY_MAX_LIST values in one list, QUERY_MAX_NAME bytes in an attribute name. A value
 * of more than 64 bytes is never a number. */
#ifndef BERTH_CLIENT_QUERY_H
#define BERTH_CLIENT_QUERY_H

#include <stdbool.h>
#include <stddef.h>

#define QUERY_MAX_BYTES 2048
#define QUERY_MAX_DEPTH 32
#define QUERY_MAX_LIST 64
#define QUERY_MAX_NAME 128 /* bytes in an attribute name, as in ECS */

/* An instance attribute as the matcher sees it; both strings are borrowed. */
struct query_attr {
	const char *name;
	const char *value; /* NULL: present without a value (compares as "") */
};

/* A compiled expression; immutable once compiled, so any number of threads may match
 * with it at once. */
struct query;

/* Compiles the NUL-terminated text. 0 with *out set (free with query_free);
 * BERTH_EBADREQ for a syntax error and BERTH_ETOOLARGE for a limit, both with the
 * message in err; BERTH_ENOMEM. *out is NULL on failure. err may be NULL when errlen is 0. */
int query_compile(const char *text, struct query **out, char *err, size_t errlen);

/* NULL is allowed. */
void query_free(struct query *q);

/* The text the query was compiled from (owned by q). */
const char *query_text(const struct query *q);

/* Whether the instance with this id and attrs[0..nattrs) matches. No allocation and no
 * side effects. When a name appears twice in attrs the first one counts. id may be NULL
 * (then ec2InstanceId compares as missing). */
bool query_match(const struct query *q, const char *id, const struct query_attr *attrs,
		 size_t nattrs);

#endif
