// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Replays a fuzz corpus through LLVMFuzzerTestOneInput() in builds without libFuzzer, so
 * every gcc and ASan build reruns the committed seeds and crash regressions.
 * Arguments are files or directories (read one level deep, sorted by name); output is TAP,
 * one "ok" per input. A crashing input aborts the program, which the runner counts as failed.
 * Never modifies the corpus.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct input_list {
	char **paths;
	size_t n;
	size_t cap;
};

static int list_add(struct input_list *l, const char *dir, const char *name)
{
	char *path;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		char **p = realloc(l->paths, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		l->paths = p;
		l->cap = cap;
	}
	if (dir) {
		size_t len = strlen(dir) + strlen(name) + 2;

		path = malloc(len);
		if (path)
			snprintf(path, len, "%s/%s", dir, name);
	} else {
		path = strdup(name);
	}
	if (!path)
		return -ENOMEM;
	l->paths[l->n++] = path;
	return 0;
}

/* A directory contributes its regular, non-hidden files in name order. */
static int collect(struct input_list *l, const char *arg)
{
	struct dirent **ents = NULL;
	struct stat st;
	int n, ret = 0;

	if (stat(arg, &st) == -1)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return list_add(l, NULL, arg);

	n = scandir(arg, &ents, NULL, alphasort);
	if (n == -1)
		return -errno;
	for (int i = 0; i < n; i++) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/%s", arg, ents[i]->d_name);
		if (ret == 0 && ents[i]->d_name[0] != '.' && stat(path, &st) == 0 &&
		    S_ISREG(st.st_mode))
			ret = list_add(l, arg, ents[i]->d_name);
		free(ents[i]);
	}
	free(ents);
	return ret;
}

static int read_file(const char *path, uint8_t **data, size_t *size)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	int ret = 0;

	if (!f)
		return -errno;
	for (;;) {
		if (len == cap) {
			uint8_t *p = realloc(buf, cap ? 2 * cap : 4096);

			if (!p) {
				ret = -ENOMEM;
				break;
			}
			buf = p;
			cap = cap ? 2 * cap : 4096;
		}
		size_t got = fread(buf + len, 1, cap - len, f);

		len += got;
		if (got == 0) {
			if (ferror(f))
				ret = -EIO;
			break;
		}
	}
	fclose(f);
	if (ret) {
		free(buf);
		return ret;
	}
	*data = buf;
	*size = len;
	return 0;
}

int main(int argc, char **argv)
{
	struct input_list l = { 0 };
	int failed = 0, ret;

	for (int i = 1; i < argc; i++) {
		ret = collect(&l, argv[i]);
		if (ret) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(-ret));
			failed = 1;
		}
	}
	if (l.n == 0) {
		printf("1..0 # SKIP empty corpus\n");
		return failed;
	}

	printf("1..%zu\n", l.n);
	fflush(stdout);
	for (size_t i = 0; i < l.n; i++) {
		uint8_t *data = NULL;
		size_t size = 0;

		ret = read_file(l.paths[i], &data, &size);
		if (ret) {
			printf("not ok %zu - %s # %s\n", i + 1, l.paths[i], strerror(-ret));
			failed = 1;
		} else {
			LLVMFuzzerTestOneInput(data, size);
			free(data);
			printf("ok %zu - %s\n", i + 1, l.paths[i]);
		}
		fflush(stdout);
		free(l.paths[i]);
	}
	free(l.paths);
	return failed;
}
