/* bytes.h — fixed-endian integer loads and stores for on-disk and on-wire
 * structures (GPT, FAT, ISO9660, PE, qcow2, VHD, DHCP, ...).
 *
 * Header-only and dependency-free (just <stdint.h>), so the guest init may
 * include it too. `p` points at the first byte; no alignment is assumed. */
#ifndef I2K_BUILDER_BASE_BYTES_H
#define I2K_BUILDER_BASE_BYTES_H

#include <stdint.h>

static inline void i2k_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static inline void i2k_put_le32(uint8_t *p, uint32_t v)
{
	i2k_put_le16(p, (uint16_t)v);
	i2k_put_le16(p + 2, (uint16_t)(v >> 16));
}
static inline void i2k_put_le64(uint8_t *p, uint64_t v)
{
	i2k_put_le32(p, (uint32_t)v);
	i2k_put_le32(p + 4, (uint32_t)(v >> 32));
}
static inline void i2k_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void i2k_put_be32(uint8_t *p, uint32_t v)
{
	i2k_put_be16(p, (uint16_t)(v >> 16));
	i2k_put_be16(p + 2, (uint16_t)v);
}
static inline void i2k_put_be64(uint8_t *p, uint64_t v)
{
	i2k_put_be32(p, (uint32_t)(v >> 32));
	i2k_put_be32(p + 4, (uint32_t)v);
}
static inline uint16_t i2k_get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (unsigned)p[1] << 8);
}
static inline uint32_t i2k_get_le32(const uint8_t *p)
{
	return (uint32_t)i2k_get_le16(p) | (uint32_t)i2k_get_le16(p + 2) << 16;
}
static inline uint64_t i2k_get_le64(const uint8_t *p)
{
	return (uint64_t)i2k_get_le32(p) | (uint64_t)i2k_get_le32(p + 4) << 32;
}
static inline uint16_t i2k_get_be16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}
static inline uint32_t i2k_get_be32(const uint8_t *p)
{
	return (uint32_t)i2k_get_be16(p) << 16 | i2k_get_be16(p + 2);
}

#endif
