/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_WEBUI_H
#define MPCONV_WEBUI_H

#include "reply.h"

#include <stddef.h>

/*
 * The live status page: one static HTML file with its script (src/webui/status.html), compiled
 * into the binary at build time. It polls /status.json (shapes in status.h) every second and
 * draws per-link throughput, link state and the top sessions with their subflows.
 */
extern const char webui_status_html[];
extern const size_t webui_status_html_len;

#define WEBUI_TYPE "text/html; charset=utf-8"

/* An http_route get() for "/": the page itself. ctx is unused. */
int webui_page(void *ctx, struct reply *r);

#endif
