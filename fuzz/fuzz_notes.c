/* The curated-notes parser, through the registry builder (duplicate checks
 * and interning included). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "portkit/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char csv[] = "Service Name,Port Number,Transport Protocol,Description\nhttp,80,tcp,WWW\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pk_registry *reg = NULL;
    struct pk_err err;
    if (pk_registry_from_text(csv, sizeof csv - 1, (const char *)data, size, &reg, &err) == 0) {
        for (size_t i = 0; i < pk_registry_note_count(reg); i++) {
            struct pk_note n;
            pk_registry_note_get(reg, i, &n);
            pk_registry_is_risky(reg, n.port, n.proto);
            pk_registry_display_name(reg, n.port, n.proto);
        }
        for (size_t i = 0; i < pk_registry_range_count(reg); i++) {
            struct pk_note n;
            char text[256];
            pk_registry_range_get(reg, i, &n);
            pk_registry_range_note(reg, n.range_hi, n.proto, &n);
            pk_note_render(n.text, n.range_hi, n.range_lo, text, sizeof text);
        }
        struct pk_port_proto found[4];
        pk_registry_search(reg, "vo lam", found, 4);
        pk_registry_find_name(reg, "冰河", found, 4);
        pk_registry_free(reg);
    }
    /* the folding matcher on arbitrary bytes, both ways round */
    char *s = malloc(size + 1);
    if (s) {
        memcpy(s, data, size);
        s[size] = '\0';
        size_t len;
        pk_text_find(s, "Võ Lâm", &len);
        pk_text_find("Võ Lâm Truyền Kỳ ＱＱ 冰河", s, &len);
        free(s);
    }
    return 0;
}
