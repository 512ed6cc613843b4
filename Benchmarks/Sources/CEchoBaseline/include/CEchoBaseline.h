#ifndef CORT_CECHO_BASELINE_H
#define CORT_CECHO_BASELINE_H

#include <stddef.h>

/// A plain C DEALER -> ROUTER echo over tcp://127.0.0.1 on the same libzmq
/// that cort links: the baseline every cort transport benchmark is a ratio of.
/// The ROUTER echoes on its own thread; the DEALER side blocks in zmq_recv on
/// the caller's thread, as a hand-written C client would.
typedef struct cort_echo cort_echo;

/// Starts the echo thread and connects a DEALER to it. NULL on failure.
cort_echo *cort_echo_start(void);

/// Client only: a DEALER connected to an echo ROUTER in another process
/// (`cort-echo-server`), with no echo thread here. NULL on failure.
cort_echo *cort_echo_connect(const char *endpoint);

/// `count` blocking round trips of `len` bytes. 0 on success, else errno.
int cort_echo_roundtrips(cort_echo *echo, const void *payload, size_t len, int count);

/// Keeps up to `window` requests in flight until `count` replies arrived.
/// 0 on success, else errno.
int cort_echo_windowed(cort_echo *echo, const void *payload, size_t len, int count, int window);

/// Stops the echo thread (if any) and frees everything.
void cort_echo_stop(cort_echo *echo);

#endif
