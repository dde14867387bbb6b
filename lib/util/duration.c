#include "portkit/duration.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>

#include "util/quote.h"

static void describe(uint64_t ms, char *buf, size_t size)
{
    if (ms % 86400000 == 0)
        snprintf(buf, size, "%llu days", (unsigned long long)(ms / 86400000));
    else if (ms % 3600000 == 0)
        snprintf(buf, size, "%llu h", (unsigned long long)(ms / 3600000));
    else if (ms % 1000 == 0)
        snprintf(buf, size, "%llu s", (unsigned long long)(ms / 1000));
    else
        snprintf(buf, size, "%llu ms", (unsigned long long)ms);
}

int pk_duration_parse(const char *s, size_t len, uint64_t max_ms, uint64_t *ms, struct pk_err *err)
{
    if (max_ms == 0 || max_ms > PK_DURATION_MAX_MS)
        max_ms = PK_DURATION_MAX_MS;
    size_t i = 0;
    uint64_t whole = 0, frac = 0, frac_div = 1;
    bool digits = false, too_long = false;
    while (i < len && isdigit((unsigned char)s[i])) {
        if (whole <= PK_DURATION_MAX_MS)
            whole = whole * 10 + (uint64_t)(s[i] - '0');
        else
            too_long = true;
        digits = true;
        i++;
    }
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && isdigit((unsigned char)s[i])) {
            if (frac_div < 1000000) {
                frac = frac * 10 + (uint64_t)(s[i] - '0');
                frac_div *= 10;
            }
            digits = true;
            i++;
        }
    }
    uint64_t unit_ms = 0;
    size_t rest = len - i;
    if (rest == 0 || (rest == 1 && s[i] == 's'))
        unit_ms = 1000;
    else if (rest == 2 && s[i] == 'm' && s[i + 1] == 's')
        unit_ms = 1;
    else if (rest == 1 && s[i] == 'm')
        unit_ms = 60000;
    else if (rest == 1 && s[i] == 'h')
        unit_ms = 3600000;
    if (!digits || !unit_ms)
        return pk_err_set(err, PK_EINVAL,
                          "bad duration '%s' (a number with ms, s, m or h; a bare number is seconds)",
                          QUOTE(s, len));
    if (too_long || whole > max_ms / unit_ms || whole * unit_ms + frac * unit_ms / frac_div > max_ms) {
        char most[32];
        describe(max_ms, most, sizeof most);
        return pk_err_set(err, PK_EINVAL, "duration '%s' is too long (at most %s)", QUOTE(s, len), most);
    }
    *ms = whole * unit_ms + frac * unit_ms / frac_div;
    return 0;
}
