/* jepsen/logscan.c: the members' logs read for failures (jepsen/logscan.h). */
#include "jepsen/logscan.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#define LOGSCAN_MAX_PER_FILE 20

static const char *const patterns[] = {
	"ERROR: AddressSanitizer",
	"ERROR: LeakSanitizer",
	"runtime error:",
	"Assertion",
	"assertion failed",
	"Segmentation fault",
	"AddressSanitizer:DEADLYSIGNAL",
	"stack-overflow",
	"double free",
	"corrupted",
};

unsigned logscan_file(const char *path, json_t *findings)
{
	FILE *f = fopen(path, "r");
	char line[2048];
	unsigned n = 0, lineno = 0;
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
			if (strstr(line, patterns[i]) == NULL)
				continue;
			line[strcspn(line, "\n")] = 0;
			if (n++ < LOGSCAN_MAX_PER_FILE)
				json_array_append_new(findings,
						      json_pack("{s:s,s:i,s:s}", "log", path,
								"line", (int)lineno, "text", line));
			break;
		}
	}
	fclose(f);
	return n;
}

int logscan_crash_status(int status)
{
	if (status < 0 || !WIFSIGNALED(status))
		return 0;
	int sig = WTERMSIG(status);
	return sig != SIGKILL && sig != SIGTERM;
}
