/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_FUZZ_CHECK_H
#define MPCONV_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

/* A property the fuzz target asserts: a violation names itself and aborts (a finding). */
#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#endif
