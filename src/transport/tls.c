/*
 * tls: GnuTLS credentials from an Ed25519 seed and QUIC-ready sessions.
 * See tls.h for the contract.
 */
#include "transport/tls.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <gnutls/x509.h>
#include <gnutls/abstract.h>
#include <sodium.h>

#include "util/log.h"

/*
 * TLS 1.3 only, AES first (GnuTLS AES-GCM is ~5x cheaper than ChaCha20 per
 * packet on this class of machine), Ed25519 as the only signature scheme, and
 * no middlebox compatibility mode (QUIC forbids it).
 */
#define TLS_PRIORITY                                                \
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:"   \
	"+AES-256-GCM:+CHACHA20-POLY1305:-GROUP-ALL:+GROUP-X25519:" \
	"+GROUP-SECP256R1:-SIGN-ALL:+SIGN-EDDSA-ED25519:"           \
	"%DISABLE_TLS13_COMPAT_MODE"

static void hex_encode(char *out, const uint8_t *in, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int make_cert(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key,
		     const uint8_t pk[TLS_KEY_LEN])
{
	char cn[2 * TLS_KEY_LEN + 1];
	uint8_t serial[16];
	int rv;

	randombytes_buf(serial, sizeof(serial));
	serial[0] &= 0x7f; /* a positive INTEGER */
	hex_encode(cn, pk, TLS_KEY_LEN);
	if ((rv = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
	    (rv = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial))) < 0 ||
	    (rv = gnutls_x509_crt_set_activation_time(crt, time(NULL) - 86400)) < 0 ||
	    (rv = gnutls_x509_crt_set_expiration_time(crt,
						      GNUTLS_X509_NO_WELL_DEFINED_EXPIRATION)) <
		    0 ||
	    (rv = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
						strlen(cn))) < 0 ||
	    (rv = gnutls_x509_crt_set_key(crt, key)) < 0 ||
	    (rv = gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA512, 0)) < 0) {
		log_error("tls: building certificate: %s", gnutls_strerror(rv));
		return -EINVAL;
	}
	return 0;
}

int tls_creds_init(struct tls_creds *tc, const uint8_t seed[TLS_KEY_LEN], tls_verify_fn verify)
{
	uint8_t sk[crypto_sign_SECRETKEYBYTES];
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t x, k;
	int rv, err = -EINVAL;

	memset(tc, 0, sizeof(*tc));
	if (sodium_init() < 0)
		return -EIO;
	crypto_sign_seed_keypair(tc->pk, sk, seed);
	sodium_memzero(sk, sizeof(sk));

	x.data = tc->pk;
	x.size = TLS_KEY_LEN;
	k.data = (unsigned char *)seed;
	k.size = TLS_KEY_LEN;
	if (gnutls_x509_privkey_init(&key) < 0 || gnutls_x509_crt_init(&crt) < 0) {
		err = -ENOMEM;
		goto out;
	}
	if ((rv = gnutls_x509_privkey_import_ecc_raw(key, GNUTLS_ECC_CURVE_ED25519, &x, NULL, &k)) <
	    0) {
		log_error("tls: importing key: %s", gnutls_strerror(rv));
		goto out;
	}
	if ((err = make_cert(crt, key, tc->pk)) < 0)
		goto out;
	err = -EINVAL;
	if (gnutls_certificate_allocate_credentials(&tc->cred) < 0) {
		err = -ENOMEM;
		goto out;
	}
	if ((rv = gnutls_certificate_set_x509_key(tc->cred, &crt, 1, key)) < 0) {
		log_error("tls: installing key: %s", gnutls_strerror(rv));
		goto out;
	}
	gnutls_certificate_set_verify_function(tc->cred, verify);
	if ((rv = gnutls_priority_init(&tc->prio, TLS_PRIORITY, NULL)) < 0) {
		log_error("tls: priority: %s", gnutls_strerror(rv));
		tc->prio = NULL;
		goto out;
	}
	err = 0;
out:
	/* set_x509_key copied both; ours are freed either way. */
	if (crt)
		gnutls_x509_crt_deinit(crt);
	if (key)
		gnutls_x509_privkey_deinit(key);
	if (err < 0)
		tls_creds_close(tc);
	return err;
}

void tls_creds_close(struct tls_creds *tc)
{
	if (tc->prio)
		gnutls_priority_deinit(tc->prio);
	if (tc->cred)
		gnutls_certificate_free_credentials(tc->cred);
	tc->prio = NULL;
	tc->cred = NULL;
}

int tls_session_new(gnutls_session_t *out, struct tls_creds *tc, int server,
		    const char *const *alpns, size_t n)
{
	gnutls_datum_t protos[4];
	gnutls_session_t s = NULL;
	unsigned int flags;
	size_t i;
	int rv;

	*out = NULL;
	if (n == 0 || n > 4 || (!server && n != 1))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		size_t len = strlen(alpns[i]);

		if (len == 0 || len > TLS_ALPN_MAX)
			return -EINVAL;
		protos[i].data = (unsigned char *)alpns[i];
		protos[i].size = len;
	}
	/* No tickets: a resumed session would skip the certificate check. */
	flags = (server ? GNUTLS_SERVER | GNUTLS_NO_AUTO_SEND_TICKET : GNUTLS_CLIENT) |
		GNUTLS_NO_TICKETS;
	if (gnutls_init(&s, flags) < 0)
		return -ENOMEM;
	if ((rv = gnutls_priority_set(s, tc->prio)) < 0 ||
	    (rv = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, tc->cred)) < 0 ||
	    (rv = gnutls_alpn_set_protocols(s, protos, n, GNUTLS_ALPN_MANDATORY)) < 0) {
		log_error("tls: session setup: %s", gnutls_strerror(rv));
		gnutls_deinit(s);
		return -EINVAL;
	}
	if (server)
		gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUIRE);
	*out = s;
	return 0;
}

int tls_session_peer_key(gnutls_session_t s, uint8_t pk[TLS_KEY_LEN])
{
	const gnutls_datum_t *certs;
	gnutls_x509_crt_t crt = NULL;
	gnutls_ecc_curve_t curve;
	gnutls_datum_t x = { NULL, 0 };
	unsigned int n = 0;
	int err = -EINVAL;

	if (gnutls_certificate_type_get2(s, GNUTLS_CTYPE_PEERS) != GNUTLS_CRT_X509)
		return -EINVAL;
	certs = gnutls_certificate_get_peers(s, &n);
	if (certs == NULL || n == 0)
		return -ENOENT;
	if (gnutls_x509_crt_init(&crt) < 0)
		return -ENOMEM;
	if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) < 0)
		goto out;
	if (gnutls_x509_crt_get_pk_algorithm(crt, NULL) != GNUTLS_PK_EDDSA_ED25519)
		goto out;
	if (gnutls_x509_crt_get_pk_ecc_raw(crt, &curve, &x, NULL) < 0)
		goto out;
	if (curve != GNUTLS_ECC_CURVE_ED25519 || x.size != TLS_KEY_LEN)
		goto out;
	memcpy(pk, x.data, TLS_KEY_LEN);
	err = 0;
out:
	gnutls_free(x.data);
	gnutls_x509_crt_deinit(crt);
	return err;
}

int tls_session_alpn(gnutls_session_t s, char *buf, size_t bufsize)
{
	gnutls_datum_t p;

	if (gnutls_alpn_get_selected_protocol(s, &p) < 0 || p.size == 0 || p.size > TLS_ALPN_MAX ||
	    p.size >= bufsize)
		return -ENOENT;
	memcpy(buf, p.data, p.size);
	buf[p.size] = '\0';
	return (int)p.size;
}
