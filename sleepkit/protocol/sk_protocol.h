/* sleepkit serial protocol: the single source of its constants.
 *
 * The firmware includes this header (-I sleepkit/protocol); the Python package parses the
 * "#define SK_<NAME> <int | "string">" lines at import (sleepkit/protocol/constants.py), so one edit
 * here changes both sides. Keep every value a plain decimal/hex integer or a string literal.
 * The frame layout and each message's payload are described in firmware/protocol.md.
 */
#ifndef SK_PROTOCOL_CONSTANTS_H
#define SK_PROTOCOL_CONSTANTS_H

#define SK_PROTOCOL_VERSION 1
#define SK_PROTOCOL_MAGIC "SLPK"          /* first bytes of the HELLO reply */

/* Frame (before COBS stuffing): len u16 | type u8 | seq u8 | payload[len] | crc32 u32, little-endian.
 * The CRC is CRC-32/ISO-HDLC (zlib's crc32) over len..payload. Each stuffed frame ends with 0x00. */
#define SK_FRAME_DELIMITER 0x00
#define SK_HEADER_BYTES 4
#define SK_CRC_BYTES 4
#ifndef SK_MAX_PAYLOAD
#define SK_MAX_PAYLOAD 1024               /* device RX payload capacity; firmware may override (-D) */
#endif
#define SK_MAX_PAYLOAD_LIMIT 65535         /* what the u16 length field can express */
#define SK_MAX_DIMS 5
#define SK_MAX_NAME 32                    /* longest model/engine/firmware name sent in INFO */

/* Requests (host -> device). A reply has the request's type | SK_REPLY_FLAG and echoes its seq. */
#define SK_MSG_HELLO 0x01
#define SK_MSG_INFO 0x02
#define SK_MSG_SET_INPUT 0x03
#define SK_MSG_INFER 0x04
#define SK_MSG_GET_OUTPUT 0x05
#define SK_MSG_RESET 0x06
#define SK_REPLY_FLAG 0x80
#define SK_MSG_ERROR 0xFF                 /* error reply: code u8 | request type u8 | detail u32 */

/* Error codes carried in SK_MSG_ERROR (engine functions return them negated). */
#define SK_ERR_BAD_CRC 1                  /* frame CRC mismatch: resend */
#define SK_ERR_BAD_FRAME 2                /* undecodable or shorter than a header */
#define SK_ERR_TOO_LARGE 3                /* frame exceeds the device RX buffer; detail = max payload */
#define SK_ERR_UNKNOWN_TYPE 4
#define SK_ERR_BAD_LENGTH 5               /* payload length wrong for the message type */
#define SK_ERR_BAD_OFFSET 6               /* SET_INPUT/GET_OUTPUT range outside the tensor or leaving a gap */
#define SK_ERR_INPUT_INCOMPLETE 7         /* INFER before the whole input arrived; detail = bytes held */
#define SK_ERR_NO_OUTPUT 8                /* GET_OUTPUT before a successful INFER on the current input */
#define SK_ERR_ENGINE 9                   /* engine init/invoke failed; detail = engine status */
#define SK_ERR_NOT_READY 10               /* engine failed to initialise at boot */

/* Tensor dtypes (sk_tensor_info_t.dtype and INFO). */
#define SK_DTYPE_INT8 1
#define SK_DTYPE_UINT8 2
#define SK_DTYPE_INT16 3
#define SK_DTYPE_INT32 4
#define SK_DTYPE_FLOAT32 5

#endif /* SK_PROTOCOL_CONSTANTS_H */
