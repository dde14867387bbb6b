/* Error messages quote the user's text: cut short, with control bytes
 * replaced, so a message always stays one printable line. */
#ifndef PORTKIT_QUOTE_H
#define PORTKIT_QUOTE_H

#include <stddef.h>
#include <string.h>

struct quoted {
    char text[72];
};

static inline struct quoted quote_text(const char *s, size_t n)
{
    struct quoted out;
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
#define QUOTE(s, n) (quote_text((s), (n)).text)
#define QUOTE_STR(s) (quote_text((s), strlen(s)).text)

#endif
