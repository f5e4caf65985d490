#include "CNIOSSLDigest.h"

// swift-nio-ssl builds its vendored BoringSSL with every symbol prefixed `CNIOBoringSSL_` (so that
// it can live beside swift-crypto's copy) and does not export its C module as a product, so the one
// function needed is declared here. It is BoringSSL's public one-shot `SHA256` (sha2.h); were it
// renamed in a future swift-nio-ssl, the link fails loudly, it cannot go wrong silently.
extern uint8_t *CNIOBoringSSL_SHA256(const uint8_t *data, size_t len, uint8_t out[32]);

void serialbridge_sha256(const uint8_t *data, size_t count, uint8_t digest[32]) {
    CNIOBoringSSL_SHA256(data, count, digest);
}
