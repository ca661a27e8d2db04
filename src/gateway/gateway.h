/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_GATEWAY_H
#define MPCONV_GATEWAY_H

/* `mpconvd gateway [options]`: the transparent hybrid-access gateway role. Returns the exit
 * code. */
int gateway_main(int argc, char **argv);

#endif
