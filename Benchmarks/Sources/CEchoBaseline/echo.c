#include "CEchoBaseline.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

struct cort_echo {
    void *context;
    void *router;
    void *dealer;
    pthread_t thread;
};

static void *echo_loop(void *arg) {
    cort_echo *echo = arg;
    for (;;) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, echo->router, 0) < 0) {
            zmq_msg_close(&part);
            if (errno == EINTR) continue;
            break; /* ETERM: the context is shutting down */
        }
        int more = zmq_msg_more(&part);
        if (zmq_msg_send(&part, echo->router, more ? ZMQ_SNDMORE : 0) < 0) {
            zmq_msg_close(&part);
            break;
        }
    }
    zmq_close(echo->router);
    return NULL;
}

cort_echo *cort_echo_connect(const char *endpoint) {
    cort_echo *echo = calloc(1, sizeof *echo);
    if (!echo) return NULL;
    echo->context = zmq_ctx_new();
    echo->dealer = zmq_socket(echo->context, ZMQ_DEALER);
    int zero = 0, timeout = 5000;
    zmq_setsockopt(echo->dealer, ZMQ_LINGER, &zero, sizeof zero);
    /* The server is another process: a bounded wait if it never answers. */
    zmq_setsockopt(echo->dealer, ZMQ_RCVTIMEO, &timeout, sizeof timeout);
    if (zmq_connect(echo->dealer, endpoint) != 0) {
        zmq_close(echo->dealer);
        zmq_ctx_term(echo->context);
        free(echo);
        return NULL;
    }
    return echo;
}

cort_echo *cort_echo_start(void) {
    cort_echo *echo = calloc(1, sizeof *echo);
    if (!echo) return NULL;
    echo->context = zmq_ctx_new();
    echo->router = zmq_socket(echo->context, ZMQ_ROUTER);
    echo->dealer = zmq_socket(echo->context, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(echo->router, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(echo->dealer, ZMQ_LINGER, &zero, sizeof zero);
    char endpoint[256];
    size_t size = sizeof endpoint;
    if (zmq_bind(echo->router, "tcp://127.0.0.1:*") != 0
        || zmq_getsockopt(echo->router, ZMQ_LAST_ENDPOINT, endpoint, &size) != 0
        || zmq_connect(echo->dealer, endpoint) != 0
        || pthread_create(&echo->thread, NULL, echo_loop, echo) != 0) {
        zmq_close(echo->router);
        zmq_close(echo->dealer);
        zmq_ctx_term(echo->context);
        free(echo);
        return NULL;
    }
    return echo;
}

static int send_one(cort_echo *echo, const void *payload, size_t len) {
    while (zmq_send(echo->dealer, payload, len, 0) < 0) {
        if (errno != EINTR) return errno;
    }
    return 0;
}

/* Receives into `reply` (initialized here; the caller closes it on
 * success). 0, else errno (and `reply` is closed). */
static int receive_message(cort_echo *echo, zmq_msg_t *reply) {
    zmq_msg_init(reply);
    while (zmq_msg_recv(reply, echo->dealer, 0) < 0) {
        if (errno != EINTR) {
            int error = errno;
            zmq_msg_close(reply);
            return error;
        }
    }
    return 0;
}

static int receive_one(cort_echo *echo) {
    zmq_msg_t reply;
    int error = receive_message(echo, &reply);
    if (error == 0) zmq_msg_close(&reply);
    return error;
}

int cort_echo_roundtrips(cort_echo *echo, const void *payload, size_t len, int count) {
    for (int i = 0; i < count; i++) {
        int error = send_one(echo, payload, len);
        if (error == 0) error = receive_one(echo);
        if (error != 0) return error;
    }
    return 0;
}

int cort_echo_windowed(cort_echo *echo, const void *payload, size_t len, int count, int window) {
    int sent = 0, received = 0;
    while (received < count) {
        while (sent < count && sent - received < window) {
            int error = send_one(echo, payload, len);
            if (error != 0) return error;
            sent++;
        }
        int error = receive_one(echo);
        if (error != 0) return error;
        received++;
    }
    return 0;
}

/* Reads a reply envelope `[1, 2, id, result]` and its id; EPROTO for
 * anything else (an error answer: a refused call would be measured). */
static int receive_reply(cort_echo *echo, uint64_t *id) {
    zmq_msg_t reply;
    int error = receive_message(echo, &reply);
    if (error != 0) return error;
    const unsigned char *bytes = zmq_msg_data(&reply);
    size_t length = zmq_msg_size(&reply);
    if (length < 4 || bytes[1] != 0x01 || bytes[2] != 0x02) {
        error = EPROTO;
    } else if (bytes[3] <= 0x7f) {
        *id = bytes[3];
    } else {
        size_t width = bytes[3] == 0xcc ? 1 : bytes[3] == 0xcd ? 2 : bytes[3] == 0xce ? 4 : bytes[3] == 0xcf ? 8 : 0;
        if (width == 0 || length < 4 + width) {
            error = EPROTO;
        } else {
            *id = 0;
            for (size_t i = 0; i < width; i++) *id = *id << 8 | bytes[4 + i];
        }
    }
    zmq_msg_close(&reply);
    return error;
}

int cort_echo_calls(cort_echo *echo, const void *frames, size_t frame_length, int window, int count) {
    const unsigned char *frame = frames;
    int sent = 0, received = 0;
    for (; sent < count && sent < window; sent++) {
        int error = send_one(echo, frame + (size_t)sent * frame_length, frame_length);
        if (error != 0) return error;
    }
    while (received < count) {
        uint64_t id = 0;
        int error = receive_reply(echo, &id);
        if (error != 0) return error;
        if (id < 1 || id > (uint64_t)window) return EPROTO;
        received++;
        if (sent < count) {
            error = send_one(echo, frame + (size_t)(id - 1) * frame_length, frame_length);
            if (error != 0) return error;
            sent++;
        }
    }
    return 0;
}

void cort_echo_stop(cort_echo *echo) {
    if (!echo) return;
    zmq_close(echo->dealer);
    if (!echo->router) { /* client only: no echo thread */
        zmq_ctx_term(echo->context);
        free(echo);
        return;
    }
    /* Unblocks the echo thread's zmq_msg_recv with ETERM; it closes its socket. */
    zmq_ctx_shutdown(echo->context);
    pthread_join(echo->thread, NULL);
    zmq_ctx_term(echo->context);
    free(echo);
}
