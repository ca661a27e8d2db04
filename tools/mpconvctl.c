// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * mpconvctl: the operator's command-line client. A subcommand table that also prints usage;
 * each subcommand parses its own arguments and returns 0 or 1. It never changes daemon state
 * except through the daemon's control socket.
 */
#include <stdio.h>
#include <string.h>

#ifndef MPCONV_VERSION
#define MPCONV_VERSION "0.1.0"
#endif

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *description;
};

static int show_version(int argc, char **argv);
static int show_help(int argc, char **argv);

static const struct subcommand subcommands[] = {
	{ "version", show_version, "print the version" },
	{ "help", show_help, "show this help" },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: mpconvctl <command> [arguments]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(out, "  %-10s %s\n", subcommands[i].name, subcommands[i].description);
}

static int show_version(int argc, char **argv)
{
	printf("mpconvctl %s\n", MPCONV_VERSION);
	return 0;
}

static int show_help(int argc, char **argv)
{
	usage(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 1;
	}
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (!strcmp(argv[1], subcommands[i].name))
			return subcommands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "mpconvctl: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 1;
}
