/* Certificates as nmap's ssl-cert reports them, parsed by OpenSSL. The
 * bytes come from whoever answered on the port: every field is read
 * through OpenSSL's DER parser and every string leaves sanitised. */
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "portkit/banner.h"
#include "portkit/buf.h"
#include "portkit/error.h"

static void name_text(const X509_NAME *n, char *out, size_t cap)
{
    struct pk_buf b = PK_BUF_INIT;
    int count = X509_NAME_entry_count(n);
    for (int i = 0; i < count && i < 32; i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(n, i);
        int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
        const char *key = nid != NID_undef ? OBJ_nid2ln(nid) : "unknown";
        unsigned char *utf8 = NULL;
        int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
        pk_buf_printf(&b, "%s%s=", i ? "/" : "", key);
        if (len > 0)
            pk_buf_append(&b, utf8, (size_t)len);
        OPENSSL_free(utf8);
    }
    pk_banner_sanitize(b.data ? b.data : "", b.len, out, cap);
    pk_buf_free(&b);
}

static void san_text(X509 *x, char *out, size_t cap)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    struct pk_buf b = PK_BUF_INIT;
    int count = names ? sk_GENERAL_NAME_num(names) : 0;
    for (int i = 0; i < count && i < 64; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        const char *sep = b.len ? ", " : "";
        if (g->type == GEN_DNS) {
            pk_buf_printf(&b, "%sDNS:", sep);
            pk_buf_append(&b, ASN1_STRING_get0_data(g->d.dNSName), (size_t)ASN1_STRING_length(g->d.dNSName));
        } else if (g->type == GEN_IPADD) {
            const unsigned char *ip = ASN1_STRING_get0_data(g->d.iPAddress);
            int len = ASN1_STRING_length(g->d.iPAddress);
            pk_buf_printf(&b, "%sIP Address:", sep);
            if (len == 4) {
                pk_buf_printf(&b, "%u.%u.%u.%u", ip[0], ip[1], ip[2], ip[3]);
            } else {
                for (int k = 0; k + 1 < len; k += 2)
                    pk_buf_printf(&b, "%s%x", k ? ":" : "", (unsigned)(ip[k] << 8 | ip[k + 1]));
            }
        } else if (g->type == GEN_EMAIL) {
            pk_buf_printf(&b, "%semail:", sep);
            pk_buf_append(&b, ASN1_STRING_get0_data(g->d.rfc822Name), (size_t)ASN1_STRING_length(g->d.rfc822Name));
        }
    }
    GENERAL_NAMES_free(names);
    pk_banner_sanitize(b.data ? b.data : "", b.len, out, cap);
    pk_buf_free(&b);
}

static int64_t asn1_unix(const ASN1_TIME *t)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return (int64_t)timegm(&tm);
}

int pk_cert_parse(const void *der, size_t len, int64_t now, struct pk_cert_info *out)
{
    memset(out, 0, sizeof *out);
    const unsigned char *p = der;
    X509 *x = len <= 1u << 20 ? d2i_X509(NULL, &p, (long)len) : NULL;
    if (!x)
        return PK_EINVAL;
    name_text(X509_get_subject_name(x), out->subject, sizeof out->subject);
    name_text(X509_get_issuer_name(x), out->issuer, sizeof out->issuer);
    san_text(x, out->san, sizeof out->san);
    EVP_PKEY *key = X509_get0_pubkey(x);
    if (key) {
        int id = EVP_PKEY_get_base_id(key);
        const char *kt = id == EVP_PKEY_RSA ? "rsa" : id == EVP_PKEY_EC ? "ec" : id == EVP_PKEY_ED25519 ? "ed25519"
                       : id == EVP_PKEY_ED448 ? "ed448" : id == EVP_PKEY_DSA ? "dsa" : "unknown";
        snprintf(out->key_type, sizeof out->key_type, "%s", kt);
        int bits = EVP_PKEY_get_bits(key);
        out->key_bits = bits > 0 ? (unsigned)bits : 0;
    }
    int sig = X509_get_signature_nid(x);
    if (sig != NID_undef)
        snprintf(out->sig_alg, sizeof out->sig_alg, "%s", OBJ_nid2ln(sig));
    out->not_before = asn1_unix(X509_get0_notBefore(x));
    out->not_after = asn1_unix(X509_get0_notAfter(x));
    out->days_left = out->not_after >= now ? (out->not_after - now) / 86400 : -((now - out->not_after + 86399) / 86400);
    out->expired = out->not_after < now;
    out->expiring = !out->expired && out->not_after - now < 30 * 86400;
    out->self_signed = X509_check_issued(x, x) == X509_V_OK && key && X509_verify(x, key) == 1;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    if (X509_digest(x, EVP_sha256(), md, &mdlen) == 1)
        for (unsigned i = 0; i < mdlen && i < 32; i++)
            snprintf(out->sha256 + 2 * i, 3, "%02x", md[i]);
    X509_free(x);
    return 0;
}

static void iso_time(int64_t t, char *out, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        snprintf(out, cap, "?");
}

size_t pk_cert_format(const struct pk_cert_info *c, char *out, size_t outlen)
{
    char nb[32], na[32];
    iso_time(c->not_before, nb, sizeof nb);
    iso_time(c->not_after, na, sizeof na);
    char verdict[96];
    if (c->expired)
        snprintf(verdict, sizeof verdict, "EXPIRED %lld days ago", (long long)-c->days_left);
    else
        snprintf(verdict, sizeof verdict, "Days left: %lld%s", (long long)c->days_left,
                 c->expiring ? " (expires soon)" : "");
    char san[sizeof c->san + 32] = "";
    if (c->san[0]) /* nmap leaves the line out when there is none */
        snprintf(san, sizeof san, "Subject Alternative Name: %s\n", c->san);
    int n = snprintf(out, outlen,
                     "Subject: %s\n%sIssuer: %s\nPublic Key type: %s\n"
                     "Public Key bits: %u\nSignature Algorithm: %s\nNot valid before: %s\nNot valid after:  %s\n"
                     "SHA-256: %s\n%s%s",
                     c->subject, san, c->issuer, c->key_type, c->key_bits, c->sig_alg, nb, na, c->sha256,
                     verdict, c->self_signed ? ", self-signed" : "");
    if (n < 0)
        return 0;
    return (size_t)n < outlen ? (size_t)n : outlen ? outlen - 1 : 0;
}
