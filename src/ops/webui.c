// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Serves the status page compiled into the binary (webui_page.c, generated from
 * src/webui/status.html). Owns nothing; the page's data comes from the role's /status.json.
 */
#include "webui.h"

int webui_page(void *ctx, struct reply *r)
{
	reply_append(r, webui_status_html, webui_status_html_len);
	return 0;
}
