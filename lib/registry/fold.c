/* Case-, accent- and width-folded text search for `info --search` and name
 * lookups: readers type "vo lam" for "Võ Lâm" and ＱＱ for QQ. */
#include "portkit/registry.h"

#include <stdint.h>
#include <string.h>

/* ASCII base letter of U+00C0..U+024F and U+1E00..U+1EFF ('?' = none),
 * derived from Unicode's canonical decompositions (đ/Đ and ø/Ø added). */
static const char latin_1_ext_b[] =
    "aaaaaa?ceeeeiiii?nooooo?ouuuuy??aaaaaa?ceeeeiiii?nooooo?ouuuuy?y"
    "aaaaaaccccccccddddeeeeeeeeeegggggggghh??iiiiiiiii???jjkk?llllll?"
    "???nnnnnn???oooooo??rrrrrrsssssssstttt??uuuuuuuuuuuuwwyyyzzzzzz?"
    "????????????????????????????????oo?????????????uu???????????????"
    "?????????????aaiioouuuuuuuuuu?aaaa????ggkkoooo??j???gg??nnaa????"
    "aaaaeeeeiiiioooorrrruuuusstt??hh??????aaeeooooooooyy????????????"
    "????????????????";
static const char latin_ext_additional[] =
    "aabbbbbbccddddddddddeeeeeeeeeeffgghhhhhhhhhhiiiikkkkkkllllllllmm"
    "mmmmnnnnnnnnoooooooopppprrrrrrrrssssssssssttttttttuuuuuuuuuuvvvv"
    "wwwwwwwwwwxxxxyyzzzzzzhtwy??????aaaaaaaaaaaaaaaaaaaaaaaaeeeeeeee"
    "eeeeeeeeiiiioooooooooooooooooooooooouuuuuuuuuuuuuuyyyyyyyy??????";

/* Decodes one UTF-8 sequence at *p (advancing it); a stray byte comes back
 * as U+DC00 + byte so it only ever matches itself. */
static uint32_t next_cp(const unsigned char **p)
{
    const unsigned char *s = *p;
    uint32_t c = s[0];
    int n = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
    if (n < 0) {
        *p = s + 1;
        return 0xDC00 + c;
    }
    c &= n == 0 ? 0x7F : n == 1 ? 0x1F : n == 2 ? 0x0F : 0x07;
    for (int i = 1; i <= n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *p = s + 1;
            return 0xDC00 + s[0];
        }
        c = c << 6 | (s[i] & 0x3F);
    }
    *p = s + n + 1;
    return c;
}

/* The folded form of c, or 0 for marks that folding drops. */
static uint32_t fold_cp(uint32_t c)
{
    if (c >= 0x300 && c <= 0x36F)
        return 0; /* combining accents (decomposed input) */
    if (c >= 0xFF01 && c <= 0xFF5E)
        c -= 0xFEE0; /* full-width ASCII */
    else if (c == 0x3000)
        c = ' ';
    if (c >= 'A' && c <= 'Z')
        return c + 32;
    if (c >= 0xC0 && c < 0x250 && latin_1_ext_b[c - 0xC0] != '?')
        return (uint32_t)latin_1_ext_b[c - 0xC0];
    if (c >= 0x1E00 && c < 0x1F00 && latin_ext_additional[c - 0x1E00] != '?')
        return (uint32_t)latin_ext_additional[c - 0x1E00];
    return c;
}

/* The next folded code point, skipping dropped marks; 0 at the end. */
static uint32_t next_folded(const unsigned char **p)
{
    while (**p) {
        uint32_t c = fold_cp(next_cp(p));
        if (c)
            return c;
    }
    return 0;
}

#define NEEDLE_MAX 128

const char *pk_text_find(const char *hay, const char *needle, size_t *match_len)
{
    uint32_t want[NEEDLE_MAX];
    size_t nw = 0;
    const unsigned char *q = (const unsigned char *)needle;
    uint32_t c;
    while (nw < NEEDLE_MAX && (c = next_folded(&q)) != 0)
        want[nw++] = c;
    if (nw == 0 || !hay)
        return NULL;
    const unsigned char *start = (const unsigned char *)hay;
    while (*start) {
        const unsigned char *p = start;
        size_t i = 0;
        while (i < nw && next_folded(&p) == want[i])
            i++;
        if (i == nw) {
            if (match_len)
                *match_len = (size_t)(p - start);
            return (const char *)start;
        }
        next_cp(&start);
    }
    return NULL;
}
