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

/// Calls to a cort node (or `cort-echo-server ENDPOINT cort`) as a plain C
/// caller would: `frames` holds `window` request envelopes of `frame_length`
/// bytes each, the one at index k with call id k + 1; each reply's id says
/// which to send again. Up to `window` in flight until `count` replies
/// arrived. 0 on success, EPROTO for an answer that is not a reply (a
/// refusal), else errno.
int cort_echo_calls(cort_echo *echo, const void *frames, size_t frame_length, int window, int count);

/// Stops the echo thread (if any) and frees everything.
void cort_echo_stop(cort_echo *echo);

#endif
