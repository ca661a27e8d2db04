/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * MPTCP socket API constants and structs for the test tools. Debian 12's kernel headers are 6.1
 * while the kernel we run is newer, so the tools do not include <linux/mptcp.h>: everything they
 * use is defined here under our own struct names, with #ifndef guards on the constants.
 * The kernel fills only as many bytes as it knows and reports that length: trust optlen.
 */
#ifndef MPCONV_TESTS_MPTCP_COMPAT_H
#define MPCONV_TESTS_MPTCP_COMPAT_H

#include <stdint.h>
#include <sys/socket.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#ifndef SOL_MPTCP
#define SOL_MPTCP 284
#endif
#ifndef TCP_IS_MPTCP
#define TCP_IS_MPTCP 43 /* getsockopt(IPPROTO_TCP): 1 = MPTCP, 0 = plain TCP / fallback */
#endif
#ifndef MPTCP_INFO
#define MPTCP_INFO 1
#endif
#ifndef MPTCP_TCPINFO
#define MPTCP_TCPINFO 2
#endif
#ifndef MPTCP_SUBFLOW_ADDRS
#define MPTCP_SUBFLOW_ADDRS 3
#endif

/* The stable head of struct mptcp_info (uapi/linux/mptcp.h); newer kernels append fields. */
struct mpc_mptcp_info {
	uint8_t subflows; /* subflows beyond the initial one */
	uint8_t add_addr_signal;
	uint8_t add_addr_accepted;
	uint8_t subflows_max;
	uint8_t add_addr_signal_max;
	uint8_t add_addr_accepted_max;
	uint32_t flags;
	uint32_t token;
	uint64_t write_seq;
	uint64_t snd_una;
	uint64_t rcv_nxt;
	uint8_t local_addr_used;
	uint8_t local_addr_max;
	uint8_t csum_enabled;
	uint8_t pad_[213]; /* room for what newer kernels add (96 bytes on 6.18) */
};

/* Header of MPTCP_TCPINFO and MPTCP_SUBFLOW_ADDRS: followed by num_subflows elements. */
struct mpc_subflow_data {
	uint32_t size_subflow_data; /* in: sizeof(struct mpc_subflow_data) */
	uint32_t num_subflows;	    /* out */
	uint32_t size_kernel;	    /* out: the kernel's element size */
	uint32_t size_user;	    /* in: our element size */
} __attribute__((aligned(8)));

/* One element of MPTCP_SUBFLOW_ADDRS: local then remote address of one subflow. */
struct mpc_subflow_addrs {
	struct sockaddr_storage local;
	struct sockaddr_storage remote;
};

#endif
