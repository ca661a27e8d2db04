// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * mpconvd: the daemon's entry point. Picks the role from argv[1] and hands over to it.
 * This is the only file that wires modules together; it owns no protocol logic.
 */
#include "converter.h"
#include "gateway.h"
#include "log.h"

#include <stdio.h>
#include <string.h>

#ifndef MPCONV_VERSION
#define MPCONV_VERSION "0.1.0"
#endif

struct role {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv); /* NULL: not built yet */
};

static const struct role roles[] = {
	{ "converter", "RFC 8803 Transport Converter (network side)", converter_main },
	{ "gateway", "transparent hybrid-access gateway (customer side)", gateway_main },
	{ "host", "the gateway for this machine's own connections (single proxy)",
	  gateway_host_main },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: mpconvd ROLE [options]\n       mpconvd --version\n\nroles:\n");
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		fprintf(out, "  %-10s %s%s\n", roles[i].name, roles[i].summary,
			roles[i].run ? "" : " (not built yet)");
}

int main(int argc, char **argv)
{
	log_init("mpconvd", LOG_LEVEL_INFO, false);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("mpconvd %s\n", MPCONV_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		if (strcmp(argv[1], roles[i].name))
			continue;
		if (!roles[i].run) {
			log_warnx("role '%s' is not built yet in this version", roles[i].name);
			return 2;
		}
		return roles[i].run(argc - 1, argv + 1);
	}
	log_warnx("unknown role '%s'", argv[1]);
	usage(stderr);
	return 2;
}
