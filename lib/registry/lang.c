/* Which language the notes and the CLI's labels speak: --lang, else the
 * locale variables, else English. */
#include "portkit/registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const codes[PK_LANG_COUNT] = {"en", "vi", "zh"};

const char *pk_lang_code(enum pk_lang lang)
{
    return (unsigned)lang < PK_LANG_COUNT ? codes[lang] : "en";
}

int pk_lang_parse(const char *s, enum pk_lang *out)
{
    if (!s)
        return PK_EINVAL;
    /* "C" and "POSIX" are the untranslated locale */
    if (strcmp(s, "C") == 0 || strcmp(s, "POSIX") == 0 || strncmp(s, "C.", 2) == 0) {
        *out = PK_LANG_EN;
        return 0;
    }
    for (int i = 0; i < PK_LANG_COUNT; i++) {
        /* "vi", "vi_VN", "vi_VN.UTF-8", "zh-CN" */
        if (strncasecmp(s, codes[i], 2) == 0 && (s[2] == '\0' || s[2] == '_' || s[2] == '-' || s[2] == '.')) {
            *out = (enum pk_lang)i;
            return 0;
        }
    }
    return PK_EINVAL;
}

enum pk_lang pk_lang_from_env(void)
{
    /* the first variable that is set decides, as setlocale does */
    static const char *const vars[] = {"LC_ALL", "LC_MESSAGES", "LANG"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        if (!v || !*v)
            continue;
        enum pk_lang lang;
        return pk_lang_parse(v, &lang) == 0 ? lang : PK_LANG_EN;
    }
    return PK_LANG_EN;
}

const char *pk_note_text(const struct pk_note *note, enum pk_lang lang)
{
    if ((unsigned)lang < PK_LANG_COUNT && note->translation[lang] && note->translation[lang][0])
        return note->translation[lang];
    return note->text;
}

void pk_note_render(const char *text, unsigned port, unsigned range_lo, char *buf, size_t size)
{
    if (!size)
        return;
    size_t n = 0;
    while (*text && n + 1 < size) {
        const char *field = NULL;
        unsigned value = 0;
        if (*text != '{') {
            buf[n++] = *text++;
            continue;
        }
        if (strncmp(text, "{port}", 6) == 0)
            field = "{port}", value = port;
        else if (strncmp(text, "{off}", 5) == 0)
            field = "{off}", value = port - range_lo;
        if (field) {
            int w = snprintf(buf + n, size - n, "%u", value);
            if (w < 0 || (size_t)w >= size - n) {
                n = size - 1;
                break;
            }
            n += (size_t)w;
            text += strlen(field);
            continue;
        }
        buf[n++] = *text++;
    }
    buf[n] = '\0';
}
