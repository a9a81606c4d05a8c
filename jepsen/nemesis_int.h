/* jepsen/nemesis_int.h: what the nemesis's files share (not for the harness's users):
 * randomness, member picks, events, and each family's start and heal.
 *
 * A family's start records every node it touches in nm->touched[family] as it goes, so
 * that its heal, which undoes exactly what touched[] says and is safe to run twice, also
 * undoes a start that failed halfway. start fills value (the start event's object, "kind"
 * set already); heal adds to value (the stop event's). */
#ifndef BERTH_JEPSEN_NEMESIS_INT_H
#define BERTH_JEPSEN_NEMESIS_INT_H

#include "jepsen/nemesis.h"

/* A uniformly random number in [0, n) (n > 0). */
uint64_t nemesis_rand(struct nemesis *nm, uint64_t n);
/* The current members' indexes, in index order: how many. */
unsigned nemesis_members(const struct nemesis *nm, unsigned *out);
/* Shuffles idx[0..n). */
void nemesis_shuffle(struct nemesis *nm, unsigned *idx, unsigned n);
/* The leader's index (nodes_leader within leader_wait_ms); its failure's code. */
int nemesis_leader(struct nemesis *nm, unsigned *leader);
/* Sets nm->errmsg; returns code. */
int nemesis_fail(struct nemesis *nm, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* "n3" for index 2, as a new JSON string. */
json_t *nemesis_name(unsigned i);
/* Appends node i's name to array arr. */
void nemesis_push(json_t *arr, unsigned i);

int nemesis_net_start(struct nemesis *nm, enum nemesis_kind k, json_t *value);
int nemesis_net_heal(struct nemesis *nm, enum nemesis_family f, json_t *value);
int nemesis_proc_start(struct nemesis *nm, enum nemesis_kind k, json_t *value);
int nemesis_proc_heal(struct nemesis *nm, enum nemesis_family f, json_t *value);
int nemesis_member_start(struct nemesis *nm, enum nemesis_kind k, json_t *value);
int nemesis_member_heal(struct nemesis *nm, enum nemesis_family f, json_t *value);

#endif
