/* What the kernel forwarder's parts share: the nft script writer
 * (forward_nft.c), the table owner (forward_kernel.c) and the conntrack
 * log (forward_conntrack.c). */
#ifndef PORTKIT_FORWARD_KERNEL_IMPL_H
#define PORTKIT_FORWARD_KERNEL_IMPL_H

#include "portkit/forward.h"

#define KFW_TABLE_PREFIX "portkit_fwd_"
#define KFW_MARK_TAG(mark) ((uint16_t)((mark) >> 16))
#define KFW_MARK_RULE(mark) ((mark) & 0xffffu)

enum kfw_place {
    KFW_LOOPBACK, /* 127.0.0.0/8, ::1: redirect */
    KFW_LOCAL,    /* an address of this host: DNAT, no masquerade */
    KFW_REMOTE,   /* another host: DNAT, masquerade, forwarding on */
};

/* Where addr lives, judged by this host's interfaces now. */
enum kfw_place kfw_place_of(const struct sockaddr *addr);

/* True when acl holds a rinetd glob (192.168.2.*): no nft set can. */
bool kfw_acl_has_glob(const struct pk_acl *acl);

/* True when any .kernel rule of cfg targets another host of family. */
bool kfw_needs_forwarding(const struct pk_fw_config *cfg, int family);

/* Things an operator should know about cfg's kernel rules that are not
 * errors ("IPv6 clients of *:8080 are not redirected ..."), one call of
 * fn per note. */
void kfw_notes(const struct pk_fw_config *cfg, void (*fn)(void *arg, const char *msg), void *arg);

/* forward_conntrack.c: END events from conntrack for one instance. */
struct kfw_ct;
struct kfw_ct *kfw_ct_new(struct pk_loop *loop, uint16_t tag, pk_fw_log_fn *log, void *log_arg,
                          struct pk_err *err);
/* The rules the marks point into; cfg stays the caller's, alive until the
 * next call or kfw_ct_free. */
void kfw_ct_set_config(struct kfw_ct *ct, const struct pk_fw_config *cfg);
void kfw_ct_free(struct kfw_ct *ct);

#endif
