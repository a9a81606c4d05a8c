/* worker/main.c: berth-worker: options, the logger, one libuv loop (docs/worker.md). */
#include "worker/worker.h"

#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	static struct wconfig cfg;
	static struct worker w;
	char err[512];
	enum log_level lvl;
	switch (wconfig_parse(&cfg, argc, argv, err, sizeof(err))) {
	case WCONFIG_HELP:
		wconfig_usage(stdout);
		return 0;
	case WCONFIG_ERROR:
		fprintf(stderr, "berth-worker: %s\n", err);
		return 2;
	case WCONFIG_OK:
		break;
	}
	log_parse_level(cfg.log_level, &lvl);
	log_set_level(lvl);
	log_set_prefix(cfg.name);
	uv_loop_t loop;
	if (uv_loop_init(&loop) != 0) {
		fprintf(stderr, "berth-worker: cannot create the event loop\n");
		return 1;
	}
	if (worker_start(&w, &loop, &cfg) != 0)
		return 1;
	uv_run(&loop, UV_RUN_DEFAULT);
	int code = w.exit_code;
	worker_close(&w);
	if (uv_loop_close(&loop) != 0)
		log_warn("the event loop still had handles at exit");
	return code;
}
