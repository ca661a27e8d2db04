/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef MPCONV_CONVERTER_H
#define MPCONV_CONVERTER_H

/* `mpconvd converter [options]`: the RFC 8803 Transport Converter role. Returns the exit code. */
int converter_main(int argc, char **argv);

#endif
