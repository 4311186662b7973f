/* sleepkit serial protocol, device side. Spec: firmware/protocol.md; constants: sk_protocol.h.
 *
 * Frames are decoded byte by byte (COBS, 0x00 delimiter) straight into one buffer, so a frame
 * costs no copy and a garbled or oversize frame is dropped at the next delimiter whatever its
 * content. Replies are COBS-encoded block by block from the reply buffer into board_uart_write.
 */
#include "protocol.h"

#include <string.h>

#include "board.h"
#include "engine.h"
#include "sk_protocol.h"

#ifndef SK_FIRMWARE_VERSION
#define SK_FIRMWARE_VERSION "0.1.0"
#endif

#define FRAME_MAX (SK_HEADER_BYTES + SK_MAX_PAYLOAD + SK_CRC_BYTES)
#define TENSOR_BYTES (2 + 4 * SK_MAX_DIMS + 12)
#define INFO_BYTES (12 + 2 * TENSOR_BYTES + 3 * (1 + SK_MAX_NAME))

/* Replies may be longer than what the device accepts (INFO): size the TX buffer for both. */
#define TX_PAYLOAD_MAX (SK_MAX_PAYLOAD > INFO_BYTES ? SK_MAX_PAYLOAD : INFO_BYTES)

#if SK_MAX_PAYLOAD < 16 || SK_MAX_PAYLOAD > SK_MAX_PAYLOAD_LIMIT
#error "SK_MAX_PAYLOAD must be 16..SK_MAX_PAYLOAD_LIMIT"
#endif

/* ---- receive state ---- */
static uint8_t s_rx[FRAME_MAX];
static uint32_t s_rx_len;      /* decoded bytes of the current frame (counts past FRAME_MAX on overflow) */
static uint8_t s_cobs_left;    /* data bytes left in the current COBS block; 0: next byte is a code */
static uint8_t s_cobs_code;    /* code of the current block */
static uint8_t s_in_frame;     /* at least one code byte seen since the last delimiter */

/* ---- protocol state ---- */
static uint8_t s_tx[SK_HEADER_BYTES + TX_PAYLOAD_MAX + SK_CRC_BYTES];
static int s_engine_status;    /* sk_engine_init() result */
static uint32_t s_held;        /* input bytes received for the current input */
static uint8_t s_output_valid; /* output belongs to the last INFER */
static uint32_t s_input_crc;
static uint32_t s_output_crc;
static sk_protocol_stats_t s_stats;
static uint32_t s_overruns_seen;

/* ---- CRC-32/ISO-HDLC (zlib), nibble table: 64 bytes of flash, two lookups per byte ---- */
static const uint32_t k_crc_nibble[16] = {
    0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u, 0x4DB26158u, 0x5005713Cu,
    0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu, 0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu,
};

static uint32_t crc32_update(uint32_t crc, const uint8_t *p, uint32_t n) {
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        crc = (crc >> 4) ^ k_crc_nibble[crc & 0x0Fu];
        crc = (crc >> 4) ^ k_crc_nibble[crc & 0x0Fu];
    }
    return ~crc;
}

static void put_u16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put_u32(uint8_t *p, uint32_t v) { put_u16(p, v); put_u16(p + 2, v >> 16); }
static uint32_t get_u16(const uint8_t *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8); }
static uint32_t get_u32(const uint8_t *p) { return get_u16(p) | (get_u16(p + 2) << 16); }

/* ---- transmit: s_tx holds header + payload; add the CRC and send COBS-stuffed ---- */
static void send_reply(uint8_t type, uint8_t seq, uint32_t len) {
    put_u16(s_tx, len);
    s_tx[2] = type;
    s_tx[3] = seq;
    uint32_t raw = SK_HEADER_BYTES + len;
    put_u32(s_tx + raw, crc32_update(0, s_tx, raw));
    raw += SK_CRC_BYTES;

    /* COBS: each block is a code byte (1 + count of following non-zero bytes, at most 254) and those
     * bytes; a code below 0xFF also stands for the zero that follows the block in the data. */
    uint32_t i = 0;
    for (;;) {
        uint32_t run = 0;
        while (i + run < raw && s_tx[i + run] != 0 && run < 254u) run++;
        uint8_t code = (uint8_t)(run + 1u);
        board_uart_write(&code, 1);
        if (run) board_uart_write(s_tx + i, run);
        i += run;
        if (run == 254u) {
            if (i >= raw) break;
            continue; /* a full block stands for no zero */
        }
        if (i >= raw) break;
        i++; /* s_tx[i] was the zero; if it was the last byte, one empty block follows */
    }
    static const uint8_t delim = SK_FRAME_DELIMITER;
    board_uart_write(&delim, 1);
}

static void send_error(uint8_t seq, uint8_t request, uint8_t code, uint32_t detail) {
    uint8_t *p = s_tx + SK_HEADER_BYTES;
    p[0] = code;
    p[1] = request;
    put_u32(p + 2, detail);
    send_reply(SK_MSG_ERROR, seq, 6);
}

static uint32_t put_tensor(uint8_t *p, const sk_tensor_info_t *t) {
    p[0] = t->dtype;
    p[1] = t->ndims;
    for (int d = 0; d < SK_MAX_DIMS; d++) put_u32(p + 2 + 4 * d, d < t->ndims ? (uint32_t)t->dims[d] : 0u);
    uint32_t scale_bits;
    memcpy(&scale_bits, &t->scale, 4);
    put_u32(p + 2 + 4 * SK_MAX_DIMS, scale_bits);
    put_u32(p + 6 + 4 * SK_MAX_DIMS, (uint32_t)t->zero_point);
    put_u32(p + 10 + 4 * SK_MAX_DIMS, t->bytes);
    return TENSOR_BYTES;
}

static uint32_t put_name(uint8_t *p, const char *s) {
    uint32_t n = s ? (uint32_t)strlen(s) : 0u;
    if (n > SK_MAX_NAME) n = SK_MAX_NAME;
    p[0] = (uint8_t)n;
    if (n) memcpy(p + 1, s, n);
    return n + 1;
}

/* ---- request handlers: each returns the reply payload length, or -error code ---- */
static int handle_hello(void) {
    uint8_t *p = s_tx + SK_HEADER_BYTES;
    memcpy(p, SK_PROTOCOL_MAGIC, 4);
    put_u16(p + 4, SK_PROTOCOL_VERSION);
    put_u16(p + 6, SK_MAX_PAYLOAD);
    return 8;
}

static int handle_info(void) {
    const sk_engine_info_t *e = sk_engine_info();
    uint8_t *p = s_tx + SK_HEADER_BYTES;
    put_u16(p, SK_PROTOCOL_VERSION);
    put_u16(p + 2, SK_MAX_PAYLOAD);
    put_u32(p + 4, e->model_hash);
    put_u32(p + 8, e->arena_bytes);
    uint32_t n = 12;
    n += put_tensor(p + n, &e->input);
    n += put_tensor(p + n, &e->output);
    n += put_name(p + n, e->model_name);
    n += put_name(p + n, e->engine_name);
    n += put_name(p + n, SK_FIRMWARE_VERSION);
    return (int)n;
}

static int handle_set_input(const uint8_t *p, uint32_t n, uint32_t *detail) {
    if (n <= 4) { *detail = n; return -SK_ERR_BAD_LENGTH; }
    const sk_engine_info_t *e = sk_engine_info();
    uint32_t offset = get_u32(p);
    uint32_t len = n - 4;
    if (offset == 0) s_held = 0; /* a new input starts */
    if (offset > s_held || offset + len > e->input.bytes) { *detail = s_held; return -SK_ERR_BAD_OFFSET; }
    memcpy(sk_engine_input() + offset, p + 4, len);
    if (offset + len > s_held) s_held = offset + len;
    s_output_valid = 0;
    put_u32(s_tx + SK_HEADER_BYTES, s_held);
    return 4;
}

static int handle_infer(uint32_t *detail) {
    const sk_engine_info_t *e = sk_engine_info();
    if (s_held != e->input.bytes) { *detail = s_held; return -SK_ERR_INPUT_INCOMPLETE; }
    /* CRC before invoke: an engine may reuse the input buffer for activations. */
    s_input_crc = crc32_update(0, sk_engine_input(), e->input.bytes);
    s_held = 0; /* the input is consumed: a repeated INFER must re-send it */
    uint32_t t0 = board_millis();
    int rc = sk_engine_invoke();
    uint32_t dt = board_millis() - t0;
    if (rc != 0) { s_output_valid = 0; *detail = (uint32_t)(rc < 0 ? -rc : rc); return -SK_ERR_ENGINE; }
    s_output_crc = crc32_update(0, sk_engine_output(), e->output.bytes);
    s_output_valid = 1;
    uint8_t *q = s_tx + SK_HEADER_BYTES;
    put_u32(q, s_input_crc);
    put_u32(q + 4, s_output_crc);
    put_u32(q + 8, dt * 1000u);
    return 12;
}

static int handle_get_output(const uint8_t *p, uint32_t n, uint32_t *detail) {
    if (n != 6) { *detail = n; return -SK_ERR_BAD_LENGTH; }
    if (!s_output_valid) return -SK_ERR_NO_OUTPUT;
    const sk_engine_info_t *e = sk_engine_info();
    uint32_t offset = get_u32(p);
    uint32_t len = get_u16(p + 4);
    if (offset > e->output.bytes || len > e->output.bytes - offset || len > SK_MAX_PAYLOAD - 8u) {
        *detail = e->output.bytes;
        return -SK_ERR_BAD_OFFSET;
    }
    uint8_t *q = s_tx + SK_HEADER_BYTES;
    put_u32(q, s_input_crc);
    put_u32(q + 4, offset);
    memcpy(q + 8, sk_engine_output() + offset, len);
    return (int)(8 + len);
}

static void handle_frame(void) {
    uint8_t type = s_rx[2], seq = s_rx[3];
    uint32_t len = get_u16(s_rx);
    const uint8_t *p = s_rx + SK_HEADER_BYTES;
    uint32_t detail = 0;
    int rc;
    if (s_engine_status != 0 && type != SK_MSG_HELLO) {
        send_error(seq, type, SK_ERR_NOT_READY, (uint32_t)(s_engine_status < 0 ? -s_engine_status : s_engine_status));
        return;
    }
    switch (type) {
        case SK_MSG_HELLO: rc = len ? (detail = len, -SK_ERR_BAD_LENGTH) : handle_hello(); break;
        case SK_MSG_INFO: rc = len ? (detail = len, -SK_ERR_BAD_LENGTH) : handle_info(); break;
        case SK_MSG_SET_INPUT: rc = handle_set_input(p, len, &detail); break;
        case SK_MSG_INFER: rc = len ? (detail = len, -SK_ERR_BAD_LENGTH) : handle_infer(&detail); break;
        case SK_MSG_GET_OUTPUT: rc = handle_get_output(p, len, &detail); break;
        case SK_MSG_RESET:
            if (len) { detail = len; rc = -SK_ERR_BAD_LENGTH; break; }
            s_held = 0;
            s_output_valid = 0;
            rc = 0;
            break;
        default: rc = -SK_ERR_UNKNOWN_TYPE; break;
    }
    if (rc < 0) send_error(seq, type, (uint8_t)-rc, detail);
    else send_reply((uint8_t)(type | SK_REPLY_FLAG), seq, (uint32_t)rc);
}

/* A delimiter arrived: judge and answer the frame decoded since the previous one. */
static void end_frame(void) {
    if (!s_in_frame) return; /* idle fill between frames */
    if (s_rx_len > FRAME_MAX) {
        s_stats.frames_large++;
        /* the header at the start of the buffer addresses the error reply */
        send_error(s_rx[3], s_rx[2], SK_ERR_TOO_LARGE, SK_MAX_PAYLOAD);
        return;
    }
    if (s_cobs_left != 0 || s_rx_len < SK_HEADER_BYTES + SK_CRC_BYTES) {
        s_stats.frames_bad++; /* truncated stuffing or no header: nobody to answer */
        return;
    }
    uint32_t len = get_u16(s_rx);
    if (len != s_rx_len - SK_HEADER_BYTES - SK_CRC_BYTES) {
        s_stats.frames_bad++;
        send_error(s_rx[3], s_rx[2], SK_ERR_BAD_FRAME, 0);
        return;
    }
    uint32_t body = SK_HEADER_BYTES + len;
    if (get_u32(s_rx + body) != crc32_update(0, s_rx, body)) {
        s_stats.frames_bad++;
        send_error(s_rx[3], s_rx[2], SK_ERR_BAD_CRC, 0);
        return;
    }
    s_stats.frames_ok++;
    handle_frame();
}

static void emit(uint8_t b) {
    if (s_rx_len < FRAME_MAX) s_rx[s_rx_len] = b;
    if (s_rx_len <= FRAME_MAX) s_rx_len++; /* FRAME_MAX + 1 marks overflow; stop counting there */
}

static void feed_byte(uint8_t b) {
    if (b == SK_FRAME_DELIMITER) {
        end_frame();
        s_rx_len = 0;
        s_cobs_left = 0;
        s_in_frame = 0;
        return;
    }
    if (s_cobs_left == 0) {
        if (s_in_frame && s_cobs_code != 0xFFu) emit(0); /* the zero the previous block stands for */
        s_cobs_code = b;
        s_cobs_left = (uint8_t)(b - 1u);
        s_in_frame = 1;
    } else {
        emit(b);
        s_cobs_left--;
    }
}

void sk_protocol_init(void) {
    s_rx_len = 0;
    s_cobs_left = 0;
    s_in_frame = 0;
    s_held = 0;
    s_output_valid = 0;
    memset(&s_stats, 0, sizeof s_stats);
    s_overruns_seen = board_uart_overruns();
    s_engine_status = sk_engine_init();
}

void sk_protocol_poll(void) {
    uint8_t buf[64];
    size_t n;
    while ((n = board_uart_read(buf, sizeof buf)) > 0) {
        for (size_t i = 0; i < n; i++) feed_byte(buf[i]);
    }
    uint32_t overruns = board_uart_overruns();
    s_stats.rx_overruns += overruns - s_overruns_seen; /* lost bytes surface as CRC errors to the host */
    s_overruns_seen = overruns;
}

const sk_protocol_stats_t *sk_protocol_stats(void) { return &s_stats; }
