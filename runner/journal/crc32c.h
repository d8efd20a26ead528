/*
 * crc32c.h - CRC-32C (Castagnoli: reflected polynomial 0x82F63B78, initial
 * value and final xor 0xFFFFFFFF), as in iSCSI, ext4 and LevelDB. OpenSSL
 * has no CRC-32C, so this is a table-driven slicing-by-8 implementation.
 * crc32c("123456789") == 0xE3069283.
 */
#ifndef DR_CRC32C_H
#define DR_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extend crc (0 to start) over n bytes; chainable: crc32c(crc32c(0,a),b). */
uint32_t dr_crc32c(uint32_t crc, const void *data, size_t n);

#endif
