#ifndef CNIOSSLDIGEST_H
#define CNIOSSLDIGEST_H

#include <stddef.h>
#include <stdint.h>

/// Writes the SHA-256 digest of `count` bytes at `data` to `digest` (32 bytes), with the BoringSSL
/// that swift-nio-ssl already links into the gateway for TLS.
void serialbridge_sha256(const uint8_t *data, size_t count, uint8_t digest[32]);

#endif
