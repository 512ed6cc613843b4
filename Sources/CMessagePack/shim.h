#ifndef CORT_CMESSAGEPACK_SHIM_H
#define CORT_CMESSAGEPACK_SHIM_H
#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * cort's glue around msgpack-c's packer.
 *
 * msgpack-c's msgpack_pack_* functions are static inline and write through a
 * callback. Every helper below builds its msgpack_packer on the stack with the
 * constant callback cort_mp_write, so the compiler inlines the callback and a
 * packed integer costs a bounds check and a store, not an indirect call.
 * The bytes land in one growing buffer (cort_mp_writer) owned by the encoder:
 * it starts on the caller's stack and moves to the heap only when it outgrows it.
 */

typedef struct cort_mp_writer {
    unsigned char *data;
    size_t size;
    size_t capacity;
    /* 1 when data was malloc'ed by the writer (and must be freed). */
    int owns_data;
    /* 1 once an allocation failed; every later write is refused. */
    int failed;
} cort_mp_writer;

static inline void cort_mp_writer_init(cort_mp_writer *w, void *initial, size_t capacity) {
    w->data = (unsigned char *)initial;
    w->size = 0;
    w->capacity = capacity;
    w->owns_data = 0;
    w->failed = 0;
}

static inline void cort_mp_writer_destroy(cort_mp_writer *w) {
    if (w->owns_data) { free(w->data); }
    w->data = NULL;
    w->size = 0;
    w->capacity = 0;
    w->owns_data = 0;
}

/* Out of line on purpose: growing is rare, and keeping it out keeps the
 * inlined fast path of every pack call small. */
__attribute__((noinline))
static int cort_mp_writer_grow(cort_mp_writer *w, size_t extra) {
    if (w->failed) { return -1; }
    size_t needed = w->size + extra;
    if (needed < w->size) { w->failed = 1; return -1; }
    size_t capacity = w->capacity < 64 ? 64 : w->capacity;
    while (capacity < needed) {
        size_t doubled = capacity * 2;
        if (doubled < capacity) { capacity = needed; break; }
        capacity = doubled;
    }
    unsigned char *grown;
    if (w->owns_data) {
        grown = (unsigned char *)realloc(w->data, capacity);
    } else {
        grown = (unsigned char *)malloc(capacity);
        if (grown && w->size > 0) { memcpy(grown, w->data, w->size); }
    }
    if (!grown) { w->failed = 1; return -1; }
    w->data = grown;
    w->capacity = capacity;
    w->owns_data = 1;
    return 0;
}

static inline int cort_mp_write(void *data, const char *buf, size_t len) {
    cort_mp_writer *w = (cort_mp_writer *)data;
    if (__builtin_expect(len > w->capacity - w->size, 0)) {
        if (cort_mp_writer_grow(w, len) != 0) { return -1; }
    }
    memcpy(w->data + w->size, buf, len);
    w->size += len;
    return 0;
}

#define CORT_MP_PACKER(w) msgpack_packer pk; pk.data = (w); pk.callback = cort_mp_write

static inline int cort_mp_pack_nil(cort_mp_writer *w) { CORT_MP_PACKER(w); return msgpack_pack_nil(&pk); }
static inline int cort_mp_pack_bool(cort_mp_writer *w, int v) {
    CORT_MP_PACKER(w);
    return v ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
}
static inline int cort_mp_pack_int64(cort_mp_writer *w, int64_t v) { CORT_MP_PACKER(w); return msgpack_pack_int64(&pk, v); }
static inline int cort_mp_pack_uint64(cort_mp_writer *w, uint64_t v) { CORT_MP_PACKER(w); return msgpack_pack_uint64(&pk, v); }
static inline int cort_mp_pack_float(cort_mp_writer *w, float v) { CORT_MP_PACKER(w); return msgpack_pack_float(&pk, v); }
static inline int cort_mp_pack_double(cort_mp_writer *w, double v) { CORT_MP_PACKER(w); return msgpack_pack_double(&pk, v); }
static inline int cort_mp_pack_str(cort_mp_writer *w, const void *b, size_t l) {
    /* Keys and most strings are fixstr (under 32 bytes) or str8 (under 256):
     * when they fit, one bounds check, the header and the body, instead of
     * msgpack-c's two writes. Each check proves header + l bytes free at
     * data + size (l < 256, so the sums cannot overflow). */
    if (__builtin_expect(l < 32 && l < w->capacity - w->size, 1)) {
        unsigned char *p = w->data + w->size;
        p[0] = (unsigned char)(0xa0 | l);
        memcpy(p + 1, b, l);
        w->size += l + 1;
        return 0;
    }
    if (l < 256 && l + 1 < w->capacity - w->size) {
        unsigned char *p = w->data + w->size;
        p[0] = 0xd9;
        p[1] = (unsigned char)l;
        memcpy(p + 2, b, l);
        w->size += l + 2;
        return 0;
    }
    CORT_MP_PACKER(w);
    int rc = msgpack_pack_str(&pk, l);
    if (rc != 0) { return rc; }
    return msgpack_pack_str_body(&pk, b, l);
}
static inline int cort_mp_pack_bin(cort_mp_writer *w, const void *b, size_t l) {
    /* bin8 in one step when it fits, as for str above. */
    if (l < 256 && l + 1 < w->capacity - w->size) {
        unsigned char *p = w->data + w->size;
        p[0] = 0xc4;
        p[1] = (unsigned char)l;
        memcpy(p + 2, b, l);
        w->size += l + 2;
        return 0;
    }
    CORT_MP_PACKER(w);
    int rc = msgpack_pack_bin(&pk, l);
    if (rc != 0) { return rc; }
    return msgpack_pack_bin_body(&pk, b, l);
}
static inline int cort_mp_pack_map(cort_mp_writer *w, size_t n) { CORT_MP_PACKER(w); return msgpack_pack_map(&pk, n); }
static inline int cort_mp_pack_array(cort_mp_writer *w, size_t n) { CORT_MP_PACKER(w); return msgpack_pack_array(&pk, n); }
static inline int cort_mp_pack_timestamp(cort_mp_writer *w, int64_t seconds, uint32_t nanoseconds) {
    CORT_MP_PACKER(w);
    msgpack_timestamp ts;
    ts.tv_sec = seconds;
    ts.tv_nsec = nanoseconds;
    return msgpack_pack_timestamp(&pk, &ts);
}

/* Writes one placeholder byte for a container header whose element count is
 * not known yet (Codable containers do not announce their size). */
static inline int cort_mp_open_container(cort_mp_writer *w, unsigned char placeholder) {
    return cort_mp_write(w, (const char *)&placeholder, 1);
}

/* Replaces the one-byte placeholder at `offset` by the smallest header for
 * `count` elements (msgpack-c's msgpack_pack_map / msgpack_pack_array),
 * moving the body right when the header needs 3 or 5 bytes. */
static inline int cort_mp_close_container(cort_mp_writer *w, size_t offset, size_t count, int is_map) {
    if (count < 16) {
        w->data[offset] = (unsigned char)((is_map ? 0x80 : 0x90) | count);
        return 0;
    }
    unsigned char header[8];
    cort_mp_writer scratch;
    cort_mp_writer_init(&scratch, header, sizeof header);
    if (is_map) { cort_mp_pack_map(&scratch, count); } else { cort_mp_pack_array(&scratch, count); }
    size_t extra = scratch.size - 1;
    if (extra > w->capacity - w->size) {
        if (cort_mp_writer_grow(w, extra) != 0) { return -1; }
    }
    memmove(w->data + offset + scratch.size, w->data + offset + 1, w->size - offset - 1);
    memcpy(w->data + offset, header, scratch.size);
    w->size += extra;
    return 0;
}

#undef CORT_MP_PACKER
#endif
