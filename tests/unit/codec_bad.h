/* tests/unit/codec_bad.h: malformed commands, requests and replies, each beside the good
 * message it breaks, in the notation of codec_lit_pack. */
#ifndef BERTH_TESTS_CODEC_BAD_H
#define BERTH_TESTS_CODEC_BAD_H

#include <stddef.h>

/* good decodes; bad is the same message with one thing wrong (good NULL: nothing to
 * compare with). */
struct bad_case {
	const char *good;
	const char *bad;
};

extern const struct bad_case codec_bad_cmds[];
extern const size_t codec_bad_ncmds;
extern const struct bad_case codec_bad_reqs[];
extern const size_t codec_bad_nreqs;
extern const struct bad_case codec_bad_replies[];
extern const size_t codec_bad_nreplies;

#endif
