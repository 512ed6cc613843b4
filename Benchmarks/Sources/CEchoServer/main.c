/* The C echo server in a process of its own: the baseline for cort's calls
 * between processes. A ROUTER bound on the endpoint given (default
 * tcp://127.0.0.1:*) echoes every message back to its sender, on the main
 * thread, as a hand-written C server would.
 *
 *   cort-echo-server [ENDPOINT] [echo|cort]
 *
 * `cort` answers as a cort node hosting `Echo` would, so that a cort caller
 * can be measured against a C server: a ping gets a pong, and a request
 * `[1, 1, id, ..., arguments]` gets the reply `[1, 2, id, arguments[0]]`
 * (the echo's result is its argument, encoded the same way); a batch
 * `[1, 10, 0, [bin...]]` of such requests gets their replies in a batch
 * (one reply alone), as a node answers a caller that batches. Nothing else
 * is checked: it is a baseline, not a node.
 *
 * CORT_ECHO_WORK_NS=N in the environment makes it spend N nanoseconds of
 * its thread's CPU (a busy wait) on each message it echoes, before the echo:
 * a server as fast as C in everything but the time each message takes, to
 * see what that time alone costs a pair (scripts/server-time.py).
 *
 * It prints "ready <endpoint>" once bound, and exits on SIGTERM (the default
 * action) or when its standard input reaches end-of-file, so that it never
 * outlives the benchmark that started it, even one that crashed. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

/* CORT_ECHO_WORK_NS (see the top); 0 for none. */
static long work_ns;

static void work(void) {
    if (work_ns <= 0) return;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) < work_ns);
}

static void *watch_stdin(void *arg) {
    (void)arg;
    char buffer[256];
    for (;;) {
        ssize_t got = read(STDIN_FILENO, buffer, sizeof buffer);
        if (got == 0 || (got < 0 && errno != EINTR)) _exit(0);
    }
    return NULL;
}

/* The end of the MessagePack object at `p`, or NULL past `end` (or for a
 * type a cort envelope never holds). */
static const unsigned char *skip(const unsigned char *p, const unsigned char *end) {
    if (p >= end) return NULL;
    unsigned char b = *p;
    size_t count = 0, length = 0, header = 1;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) return p + 1;
    if (b >= 0xa0 && b <= 0xbf) { length = b & 0x1f; }
    else if (b >= 0x90 && b <= 0x9f) { count = b & 0x0f; }
    else if (b >= 0x80 && b <= 0x8f) { count = 2 * (size_t)(b & 0x0f); }
    else {
        switch (b) {
        case 0xcc: case 0xd0: header = 2; break;
        case 0xcd: case 0xd1: header = 3; break;
        case 0xce: case 0xd2: header = 5; break;
        case 0xcf: case 0xd3: header = 9; break;
        case 0xc4: case 0xd9:
            if (end - p < 2) return NULL;
            header = 2; length = p[1]; break;
        case 0xc5: case 0xda:
            if (end - p < 3) return NULL;
            header = 3; length = (size_t)p[1] << 8 | p[2]; break;
        case 0xdc:
            if (end - p < 3) return NULL;
            header = 3; count = (size_t)p[1] << 8 | p[2]; break;
        case 0xde:
            if (end - p < 3) return NULL;
            header = 3; count = 2 * ((size_t)p[1] << 8 | p[2]); break;
        default: return NULL;
        }
    }
    if ((size_t)(end - p) < header) return NULL;
    p += header;
    if (count == 0) return (size_t)(end - p) >= length ? p + length : NULL;
    for (size_t i = 0; i < count && p; i++) p = skip(p, end);
    return p;
}

/* What a cort node hosting Echo answers to `request` (an envelope), in
 * `answer`; its length, or 0 for a frame it does not answer. */
static size_t answer_as_node(const unsigned char *request, size_t length, unsigned char *answer, size_t room) {
    const unsigned char *end = request + length;
    if (length < 4 || request[1] != 0x01) return 0;
    const unsigned char *id = request + 3, *after = skip(id, end);
    if (!after) return 0;
    size_t id_length = (size_t)(after - id);
    if (request[2] == 0x05) { /* ping [1, 5, seq] -> pong [1, 6, seq, freeSlots 16, incarnation 1] */
        if (3 + id_length + 2 > room) return 0;
        memcpy(answer, "\x95\x01\x06", 3);
        memcpy(answer + 3, id, id_length);
        answer[3 + id_length] = 0x10;
        answer[4 + id_length] = 0x01;
        return 5 + id_length;
    }
    if (request[0] != 0x9b || request[2] != 0x01) return 0;
    const unsigned char *p = after;
    for (int field = 3; field < 10 && p; field++) p = skip(p, end);
    if (!p || p >= end || *p != 0x91) return 0; /* Echo.echo takes one argument */
    const unsigned char *argument = p + 1, *argument_end = skip(argument, end);
    if (!argument_end) return 0;
    size_t argument_length = (size_t)(argument_end - argument);
    if (3 + id_length + argument_length > room) return 0;
    memcpy(answer, "\x94\x01\x02", 3);
    memcpy(answer + 3, id, id_length);
    memcpy(answer + 3 + id_length, argument, argument_length);
    return 3 + id_length + argument_length;
}

/* The count of the MessagePack array whose header is at `p`, and the
 * bytes after the header; NULL when `p` holds no array header. */
static const unsigned char *array_header(const unsigned char *p, const unsigned char *end, size_t *count) {
    if (p >= end) return NULL;
    if (*p >= 0x90 && *p <= 0x9f) { *count = *p & 0x0f; return p + 1; }
    if (*p == 0xdc && end - p >= 3) { *count = ((size_t)p[1] << 8) | p[2]; return p + 3; }
    return NULL;
}

/* The bytes of the bin at `p` (their length in `length`); NULL when `p`
 * holds no bin, or one that runs past `end`. */
static const unsigned char *bin_bytes(const unsigned char *p, const unsigned char *end, size_t *length) {
    size_t header;
    if (p >= end) return NULL;
    if (*p == 0xc4 && end - p >= 2) { *length = p[1]; header = 2; }
    else if (*p == 0xc5 && end - p >= 3) { *length = ((size_t)p[1] << 8) | p[2]; header = 3; }
    else if (*p == 0xc6 && end - p >= 5) {
        *length = ((size_t)p[1] << 24) | ((size_t)p[2] << 16) | ((size_t)p[3] << 8) | p[4];
        header = 5;
    } else return NULL;
    if ((size_t)(end - p) - header < *length) return NULL;
    return p + header;
}

/* What a node answers to the batch `request` (`[1, 10, 0, [bin...]]`, see
 * docs/PROTOCOL.md): the entries' replies, in `answer`, as a batch, or as
 * they are when only one has a reply; its length, or 0 when it is not a
 * batch or no entry has a reply. */
static size_t answer_batch(const unsigned char *request, size_t length, unsigned char *answer, size_t room) {
    const unsigned char *end = request + length, *p;
    size_t fields, entries;
    if (!(p = array_header(request, end, &fields)) || fields != 4 || end - p < 3
        || p[0] != 0x01 || p[1] != 0x0a || p[2] != 0x00) return 0;
    if (!(p = array_header(p + 3, end, &entries)) || entries == 0 || entries > 64) return 0;
    /* [1, 10, 0, entries]: array 16 headers, their counts filled in last. */
    static const unsigned char header[] = {0xdc, 0x00, 0x04, 0x01, 0x0a, 0x00, 0xdc, 0x00, 0x00};
    if (room < sizeof header) return 0;
    memcpy(answer, header, sizeof header);
    size_t used = sizeof header, replies = 0, last_start = 0, last_length = 0;
    unsigned char reply[4096];
    for (size_t i = 0; i < entries; i++) {
        size_t entry_length;
        const unsigned char *entry = bin_bytes(p, end, &entry_length);
        if (!entry) return 0;
        p = entry + entry_length;
        size_t reply_length = answer_as_node(entry, entry_length, reply, sizeof reply);
        if (reply_length == 0) continue;
        size_t bin_header = reply_length <= 0xff ? 2 : 3;
        if (used + bin_header + reply_length > room) return 0;
        if (bin_header == 2) {
            answer[used] = 0xc4;
            answer[used + 1] = (unsigned char)reply_length;
        } else {
            answer[used] = 0xc5;
            answer[used + 1] = (unsigned char)(reply_length >> 8);
            answer[used + 2] = (unsigned char)reply_length;
        }
        memcpy(answer + used + bin_header, reply, reply_length);
        last_start = used + bin_header;
        last_length = reply_length;
        used += bin_header + reply_length;
        replies++;
    }
    if (replies == 0) return 0;
    if (replies == 1) { /* a batch of one is never sent */
        memmove(answer, answer + last_start, last_length);
        return last_length;
    }
    answer[7] = (unsigned char)(replies >> 8);
    answer[8] = (unsigned char)replies;
    return used;
}

/* Serves as a cort node would (see the top): [routing id, envelope] in,
 * [routing id, answer] out. A batch of requests can be as large as 64
 * KiB. */
static void serve_as_node(void *router) {
    static unsigned char routing[256], request[128 * 1024], answer[128 * 1024];
    for (;;) {
        int routing_length = zmq_recv(router, routing, sizeof routing, 0);
        if (routing_length < 0) {
            if (errno == EINTR) continue;
            return;
        }
        int more = 0;
        size_t size = sizeof more;
        zmq_getsockopt(router, ZMQ_RCVMORE, &more, &size);
        if (!more) continue;
        int request_length = zmq_recv(router, request, sizeof request, 0);
        if (request_length < 0) {
            if (errno == EINTR) continue;
            return;
        }
        for (;;) { /* drop any further frames */
            zmq_getsockopt(router, ZMQ_RCVMORE, &more, &size);
            if (!more) break;
            if (zmq_recv(router, request, 0, 0) < 0 && errno != EINTR) return;
        }
        if (routing_length > (int)sizeof routing || request_length > (int)sizeof request) continue;
        work();
        size_t answer_length = answer_as_node(request, (size_t)request_length, answer, sizeof answer);
        if (answer_length == 0) answer_length = answer_batch(request, (size_t)request_length, answer, sizeof answer);
        if (answer_length == 0) continue;
        if (zmq_send(router, routing, (size_t)routing_length, ZMQ_SNDMORE) < 0
            || zmq_send(router, answer, answer_length, 0) < 0) {
            if (errno == EINTR || errno == EHOSTUNREACH) continue;
            return;
        }
    }
}

int main(int argc, char **argv) {
    const char *requested = argc > 1 ? argv[1] : "tcp://127.0.0.1:*";
    int as_node = argc > 2 && strcmp(argv[2], "cort") == 0;
    if (argc > 2 && !as_node && strcmp(argv[2], "echo") != 0) {
        fprintf(stderr, "usage: cort-echo-server [ENDPOINT] [echo|cort]\n");
        return 2;
    }
    const char *work_setting = getenv("CORT_ECHO_WORK_NS");
    if (work_setting) {
        char *end = NULL;
        errno = 0;
        work_ns = strtol(work_setting, &end, 10);
        if (errno != 0 || end == work_setting || *end != '\0' || work_ns < 0 || work_ns > 1000000000L) {
            fprintf(stderr, "cort-echo-server: CORT_ECHO_WORK_NS must be nanoseconds from 0 to 1000000000, not '%s'\n",
                    work_setting);
            return 2;
        }
    }
    void *context = zmq_ctx_new();
    void *router = zmq_socket(context, ZMQ_ROUTER);
    int zero = 0;
    zmq_setsockopt(router, ZMQ_LINGER, &zero, sizeof zero);
    char endpoint[256];
    size_t size = sizeof endpoint;
    if (zmq_bind(router, requested) != 0
        || zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, endpoint, &size) != 0) {
        fprintf(stderr, "cort-echo-server: cannot bind %s: %s\n", requested, zmq_strerror(zmq_errno()));
        return 1;
    }
    pthread_t watcher;
    if (pthread_create(&watcher, NULL, watch_stdin, NULL) != 0) return 1;
    printf("ready %s\n", endpoint);
    fflush(stdout);
    if (as_node) {
        int on = 1; /* a departed caller is skipped, never blocked on */
        zmq_setsockopt(router, ZMQ_ROUTER_MANDATORY, &on, sizeof on);
        serve_as_node(router);
        zmq_close(router);
        zmq_ctx_term(context);
        return 0;
    }
    for (;;) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, router, 0) < 0) {
            zmq_msg_close(&part);
            if (errno == EINTR) continue;
            break;
        }
        int more = zmq_msg_more(&part);
        if (!more) work();
        if (zmq_msg_send(&part, router, more ? ZMQ_SNDMORE : 0) < 0) {
            zmq_msg_close(&part);
            if (errno == EINTR) continue;
            break;
        }
    }
    zmq_close(router);
    zmq_ctx_term(context);
    return 0;
}
