/* CRC32C (Castagnoli), the checksum of nvh payloads and headers: the SSE4.2 crc32
 * instruction when the CPU has it (several GB/s, so checksumming never dominates a checkpoint),
 * a slicing-by-8 table otherwise. Both produce the same values (standard CRC-32C: reflected
 * polynomial 0x82F63B78, initial and final XOR 0xFFFFFFFF). */
#include <stdint.h>
#include <string.h>
#include <pthread.h>
#include "nvh_internal.h"

static uint32_t crc_table[8][256];
static pthread_once_t crc_table_once = PTHREAD_ONCE_INIT;

static void crc_table_build(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
		crc_table[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

static uint32_t crc32c_soft(uint32_t crc, const unsigned char *p, size_t len)
{
	pthread_once(&crc_table_once, crc_table_build);
	while (len >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		v ^= crc;
		crc = crc_table[7][v & 0xff] ^ crc_table[6][(v >> 8) & 0xff] ^
		      crc_table[5][(v >> 16) & 0xff] ^ crc_table[4][(v >> 24) & 0xff] ^
		      crc_table[3][(v >> 32) & 0xff] ^ crc_table[2][(v >> 40) & 0xff] ^
		      crc_table[1][(v >> 48) & 0xff] ^ crc_table[0][v >> 56];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
	return crc;
}

__attribute__((target("sse4.2")))
static uint32_t crc32c_sse42(uint32_t crc, const unsigned char *p, size_t len)
{
	uint64_t c = crc;
	while (len >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
		p += 8;
		len -= 8;
	}
	uint32_t c32 = (uint32_t)c;
	while (len--)
		c32 = __builtin_ia32_crc32qi(c32, *p++);
	return c32;
}

uint32_t nvh_crc32c(uint32_t crc, const void *data, size_t len)
{
	static int use_sse42 = -1; /* racy first use is harmless: every thread computes the same */
	if (use_sse42 < 0)
		use_sse42 = __builtin_cpu_supports("sse4.2");
	if (!use_sse42)
		return nvh__crc32c_portable(crc, data, len);
	return ~crc32c_sse42(~crc, data, len);
}

uint32_t nvh__crc32c_portable(uint32_t crc, const void *data, size_t len)
{
	return ~crc32c_soft(~crc, data, len);
}
