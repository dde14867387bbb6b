/* Error messages quote the user's text: cut short, with control bytes
 * replaced, so a message always stays one printable line. */
#ifndef PORTKIT_QUOTE_H
#define PORTKIT_QUOTE_H

#include <stddef.h>
#include <string.h>

struct pk_quoted {
    char text[72];
};

static inline struct pk_quoted pk_quote(const char *s, size_t n)
{
    struct pk_quoted out;
    size_t k = 0, room = sizeof out.text - 4;
    for (size_t i = 0; i < n && k < room; i++)
        out.text[k++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (n > room) {
        memcpy(out.text + k, "...", 3);
        k += 3;
    }
    out.text[k] = '\0';
    return out;
}

/* The quoted text as a char * valid until the end of the full expression. */
#define PK_QUOTE(s, n) (pk_quote((s), (n)).text)
#define PK_QUOTE_STR(s) (pk_quote((s), strlen(s)).text)

#endif
