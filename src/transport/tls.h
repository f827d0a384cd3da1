/*
 * tls: the TLS 1.3 identity of this node for QUIC, built from its Ed25519 seed.
 *
 * A node proves its identity with a self-signed X.509 certificate whose
 * subject key is its Ed25519 public key; peers never trust a chain, they
 * compare the raw 32-byte key with the endpoint id they expect (client) or
 * hand it to the daemon to admit (server). This module owns the GnuTLS
 * credentials and knows how to set a session up for QUIC (TLS 1.3 only,
 * Ed25519 signatures, no session tickets so a resumed session can never skip
 * the key check, mandatory ALPN, client certificate required by the server).
 * It does not know ngtcp2: the QUIC module configures the session for QUIC and
 * supplies the verify hook that applies its policy.
 *
 * Ownership: tls_creds_init() fills a caller-owned struct tls_creds;
 * tls_creds_close() releases what it holds. Sessions made by
 * tls_session_new() belong to the caller (gnutls_deinit) and must not outlive
 * the credentials.
 */
#ifndef RAYFISH_TRANSPORT_TLS_H
#define RAYFISH_TRANSPORT_TLS_H

#include "util/limits.h"

#include <stddef.h>
#include <stdint.h>
#include <gnutls/gnutls.h>

#define TLS_KEY_LEN LIMIT_KEY_LEN
#define TLS_ALPN_MAX 32

/*
 * Called by GnuTLS once the peer's certificate arrived, inside the
 * handshake. Return 0 to continue, non-zero to abort the handshake with an
 * alert. Use tls_session_peer_key() to learn the presented key.
 */
typedef int (*tls_verify_fn)(gnutls_session_t session);

struct tls_creds {
	gnutls_certificate_credentials_t cred;
	gnutls_priority_t prio;
	uint8_t pk[TLS_KEY_LEN]; /* our Ed25519 public key */
};

/* Builds the key pair and self-signed certificate from a 32-byte seed. */
int tls_creds_init(struct tls_creds *tc, const uint8_t seed[TLS_KEY_LEN], tls_verify_fn verify);
void tls_creds_close(struct tls_creds *tc);

/*
 * Creates a session. The client offers exactly one ALPN (alpns[0], n == 1);
 * the server accepts any of the n given. Both sides require the peer's
 * certificate. Returns 0 or -errno.
 */
int tls_session_new(gnutls_session_t *out, struct tls_creds *tc, int server,
		    const char *const *alpns, size_t n);

/*
 * Copies the Ed25519 public key of the peer's certificate into pk. Returns 0,
 * -ENOENT when the peer sent no certificate, -EINVAL when it is not a
 * well-formed Ed25519 certificate.
 */
int tls_session_peer_key(gnutls_session_t s, uint8_t pk[TLS_KEY_LEN]);

/*
 * Copies the negotiated ALPN as a NUL-terminated string into buf (size
 * TLS_ALPN_MAX + 1). Returns its length or -ENOENT.
 */
int tls_session_alpn(gnutls_session_t s, char *buf, size_t bufsize);

#endif
